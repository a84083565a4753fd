// The vdev-shmem decision table, shared by the rules test (policy built
// directly) and the configuration test (policy built from both sources).
import type {
  ShmemDecisionStatus,
  ShmemRule,
  ShmemSubst,
} from '../../../src/hw/misc/vdev-shmem-rules.js';
import type { VdevShmemProps } from '../../../src/hw/misc/vdev-shmem-config.js';

/** One scenario: a configuration in three spellings and what it decides. */
export interface Scenario {
  title: string;
  /** The rules and subst, as ShmemPolicy takes them. */
  rules: ShmemRule[];
  subst?: ShmemSubst;
  /** The same configuration as a QNX `vdev shmem` option block. */
  qnx: string;
  /** The same configuration as QOM properties. */
  props: VdevShmemProps;
  /** Expected pre-created regions: [guest name, host name]. */
  creates?: [string, string][];
  /** [guest name, expected status, expected host name when ok]. */
  cases: [string, ShmemDecisionStatus, string?][];
}

const n = (len: number, c = 'a'): string => c.repeat(len);

export const scenarios: Scenario[] = [
  {
    title: 'no rules: every legal name is allowed',
    rules: [],
    qnx: 'vdev shmem\n',
    props: {},
    cases: [
      ['x', 'ok', 'x'],
      ['wombat', 'ok', 'wombat'],
      [n(32), 'ok', n(32)],
      ['.hidden', 'ok', '.hidden'],
      ['', 'illegal-name'],
      ['a/b', 'illegal-name'],
      ['/abs', 'illegal-name'],
      ['.', 'illegal-name'],
      ['..', 'illegal-name'],
      ['nul\0inside', 'illegal-name'],
      [n(33), 'illegal-name'],
    ],
  },
  {
    title: 'QNX example: allow test* + allow pluto (implicit deny *)',
    rules: [
      { action: 'allow', pattern: 'test*' },
      { action: 'allow', pattern: 'pluto' },
    ],
    qnx: 'vdev shmem\n    allow test*\n    allow pluto\n',
    props: { 'rules.0.allow': 'test*', 'rules.1.allow': 'pluto' },
    cases: [
      ['test', 'ok', 'test'],
      ['testing', 'ok', 'testing'],
      ['pluto', 'ok', 'pluto'],
      ['plutoplanet', 'no-permission'],
      ['mars', 'no-permission'],
      ['tes', 'no-permission'],
      ['Test', 'no-permission'],
      ['', 'illegal-name'],
    ],
  },
  {
    title: 'QNX example: deny live* + deny pluto (implicit allow *)',
    rules: [
      { action: 'deny', pattern: 'live*' },
      { action: 'deny', pattern: 'pluto' },
    ],
    qnx: 'vdev shmem deny live* deny pluto',
    props: { rules: [{ deny: 'live*' }, { deny: 'pluto' }] },
    cases: [
      ['live', 'no-permission'],
      ['lively', 'no-permission'],
      ['pluto', 'no-permission'],
      ['plutoplanet', 'ok', 'plutoplanet'],
      ['mars', 'ok', 'mars'],
      ['alive', 'ok', 'alive'],
    ],
  },
  {
    title: 'QNX example: deny pluto then allow pluto* (first match; an allow closes with deny *)',
    rules: [
      { action: 'deny', pattern: 'pluto' },
      { action: 'allow', pattern: 'pluto*' },
    ],
    qnx: 'vdev shmem\n  deny pluto   # not the planet itself\n  allow pluto*\n',
    props: { 'rules.0.deny': 'pluto', 'rules.1.allow': 'pluto*' },
    cases: [
      ['pluto', 'no-permission'],
      ['plutoplanet', 'ok', 'plutoplanet'],
      ['pluto2', 'ok', 'pluto2'],
      ['mars', 'no-permission'],
    ],
  },
  {
    title: 'order matters: allow pluto* before deny pluto lets pluto through',
    rules: [
      { action: 'allow', pattern: 'pluto*' },
      { action: 'deny', pattern: 'pluto' },
    ],
    qnx: 'allow pluto*\ndeny pluto\n',
    props: { rules: [{ allow: 'pluto*' }, { deny: 'pluto' }] },
    cases: [
      ['pluto', 'ok', 'pluto'],
      ['plutoplanet', 'ok', 'plutoplanet'],
      ['mars', 'no-permission'],
    ],
  },
  {
    title: 'mixed list ending in deny still closes with deny *',
    rules: [
      { action: 'deny', pattern: 'a*' },
      { action: 'allow', pattern: 'b*' },
      { action: 'deny', pattern: 'c*' },
    ],
    qnx: 'deny a* allow b* deny c*',
    props: { 'rules.0.deny': 'a*', 'rules.1.allow': 'b*', 'rules.2.deny': 'c*' },
    cases: [
      ['a1', 'no-permission'],
      ['b1', 'ok', 'b1'],
      ['c1', 'no-permission'],
      ['d1', 'no-permission'],
    ],
  },
  {
    title: 'bracket expressions, classes and negation',
    rules: [
      { action: 'deny', pattern: '[0-9]*' },
      { action: 'deny', pattern: '*[!a-z0-9_]*' },
    ],
    qnx: 'deny [0-9]*\ndeny *[!a-z0-9_]*\n',
    props: { rules: [{ deny: '[0-9]*' }, { deny: '*[!a-z0-9_]*' }] },
    cases: [
      ['1abc', 'no-permission'],
      ['abc', 'ok', 'abc'],
      ['ab-c', 'no-permission'],
      ['ab_c9', 'ok', 'ab_c9'],
      ['Abc', 'no-permission'],
    ],
  },
  {
    title: 'single-character wildcards, POSIX classes, escapes, leading dots',
    rules: [
      { action: 'allow', pattern: '?' },
      { action: 'allow', pattern: '[[:upper:]]*' },
      { action: 'allow', pattern: '\\*' },
      { action: 'allow', pattern: '*[^[:alnum:]]' },
    ],
    qnx: 'allow ? allow [[:upper:]]* allow \\* allow "*[^[:alnum:]]"',
    props: {
      'rules.0.allow': '?',
      'rules.1.allow': '[[:upper:]]*',
      'rules.2.allow': '\\*',
      'rules.3.allow': '*[^[:alnum:]]',
    },
    cases: [
      ['a', 'ok', 'a'],
      ['ab', 'no-permission'],
      ['Abc', 'ok', 'Abc'],
      ['*', 'ok', '*'],
      ['a*b', 'no-permission'],
      ['abc.', 'ok', 'abc.'],
      ['.', 'illegal-name'],
    ],
  },
  {
    title: 'allow * matches names with a leading dot (no FNM_PERIOD)',
    rules: [{ action: 'allow', pattern: '*' }],
    qnx: 'allow *',
    props: { 'rules.0.allow': '*' },
    cases: [
      ['.hidden', 'ok', '.hidden'],
      ['x', 'ok', 'x'],
    ],
  },
  {
    title: 'deny * refuses everything, but illegal names stay illegal',
    rules: [{ action: 'deny', pattern: '*' }],
    qnx: 'deny *',
    props: { 'rules.0.deny': '*' },
    cases: [
      ['x', 'no-permission'],
      ['.hidden', 'no-permission'],
      ['', 'illegal-name'],
      ['a/b', 'illegal-name'],
    ],
  },
  {
    title: 'subst ,prefix prepends; the 32-character limit counts name plus prefix',
    rules: [],
    subst: { match: '', prefix: 'vm1_' },
    qnx: 'subst ,vm1_\ncreate wombat,0x2000\n',
    props: { 'subst.prefix': 'vm1_', 'create.0.name': 'wombat', 'create.0.size': '0x2000' },
    creates: [['wombat', 'vm1_wombat']],
    cases: [
      ['wombat', 'ok', 'vm1_wombat'],
      [n(28), 'ok', `vm1_${n(28)}`],
      [n(29), 'illegal-name'],
      [n(32), 'illegal-name'],
      ['', 'illegal-name'],
    ],
  },
  {
    title: 'subst match,prefix replaces the first occurrence, anywhere',
    rules: [],
    subst: { match: 'guest_', prefix: 'vm1_' },
    qnx: 'subst guest_,vm1_',
    props: { subst: { match: 'guest_', prefix: 'vm1_' } },
    cases: [
      ['guest_a', 'ok', 'vm1_a'],
      ['a_guest_b', 'ok', 'a_vm1_b'],
      ['guest_guest_', 'ok', 'vm1_guest_'],
      ['other', 'ok', 'other'],
      [n(28), 'ok', n(28)],
      [n(29), 'illegal-name'],
    ],
  },
  {
    title: 'subst applies to create options after it, not before',
    rules: [],
    subst: { match: '', prefix: 'p_' },
    qnx: 'create early,4K\nsubst ,p_\ncreate late,4K\n',
    props: {
      'subst.prefix': 'p_',
      'create.0.name': 'early',
      'create.0.size': '4K',
      'create.0.subst': 'off',
      'create.1.name': 'late',
      'create.1.size': '4K',
    },
    creates: [
      ['early', 'early'],
      ['late', 'p_late'],
    ],
    cases: [
      ['early', 'ok', 'p_early'],
      ['late', 'ok', 'p_late'],
    ],
  },
  {
    title: 'rules match the guest-visible name, not the host name',
    rules: [{ action: 'allow', pattern: 'wom*' }],
    subst: { match: '', prefix: 'vm1_' },
    qnx: 'subst ,vm1_ allow wom*',
    props: { 'subst.prefix': 'vm1_', rules: [{ allow: 'wom*' }] },
    cases: [
      ['wombat', 'ok', 'vm1_wombat'],
      ['vm1_wombat', 'no-permission'],
      [n(29, 'w'), 'illegal-name'],
    ],
  },
  {
    title: 'an illegal name is reported before the rules are consulted',
    rules: [{ action: 'allow', pattern: '*' }],
    subst: { match: '', prefix: 'abcd' },
    qnx: 'allow * subst ,abcd',
    props: { 'rules.0.allow': '*', 'subst.prefix': 'abcd' },
    cases: [
      [n(28), 'ok', `abcd${n(28)}`],
      [n(29), 'illegal-name'],
      ['x/y', 'illegal-name'],
    ],
  },
];
