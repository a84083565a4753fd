import test from 'ava';
import { native, NATIVE_ABI_VERSION } from '../../src/native/index.js';

test('the native addon loads and speaks the expected interface version', (t) => {
  t.is(native().abiVersion(), NATIVE_ABI_VERSION);
});
