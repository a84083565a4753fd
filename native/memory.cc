// The process's own heap: handing freed memory back to the OS. Policy
// (when it is worth it) lives in TypeScript (src/util/memory-release.ts).
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <v8.h>

#include "common.h"

namespace tsqom {
namespace {

// malloc_trim(3): returns the allocator's free memory (in every arena, not
// only at the top of the heap) to the OS, keeping `pad` bytes at the top.
// True when something was released. It sets no errno; on a C library
// without it (musl), nothing is released and the answer is false.
Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  uint64_t pad = ArgU64Or(info, 0, "pad", 0);
#ifdef __GLIBC__
  return Napi::Boolean::New(info.Env(), malloc_trim(static_cast<size_t>(pad)) == 1);
#else
  (void)pad;
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// V8's low-memory notification: a full, compacting collection that also
// shrinks the young generation and frees unreferenced Buffers' memory
// (which the JS heap only accounts for, so a normal collection schedule
// may not come for a long time in an idle process). Synchronous.
Napi::Value LowMemoryNotification(const Napi::CallbackInfo& info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->LowMemoryNotification();
  return info.Env().Undefined();
}

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
  exports.Set("lowMemoryNotification", Napi::Function::New(env, LowMemoryNotification, "lowMemoryNotification"));
}

}  // namespace tsqom
