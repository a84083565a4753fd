// tsqom's native layer: thin, errno-faithful wrappers over the host's
// system calls. Policy lives in TypeScript (src/native/).
#include <napi.h>

namespace {

Napi::Value AbiVersion(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), 1);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Function::New(env, AbiVersion, "abiVersion"));
  return exports;
}

}  // namespace

NODE_API_MODULE(tsqom_native, Init)
