// Memory mappings shared by mapping.cc, prealloc.cc and atomics.cc.
//
// Lifetime rules (the point of this file):
// - A Region is the mapped memory. It is reference counted, on the JS
//   thread only: the Mapping object holds one reference, every ArrayBuffer
//   handed out holds one (dropped by its finalizer), every pending
//   preallocation or futex wait holds one. munmap happens at the first of:
//   an explicit unmap() with nothing running on the memory, the last
//   running job ending after an unmap() that had to defer, or the last
//   reference going away (garbage collection of everything that could
//   reach the memory). It never happens twice.
// - unmap() detaches every ArrayBuffer the mapping handed out before the
//   memory goes away, so a stale view has length 0 instead of a dangling
//   pointer.
// - unmap() is refused with EBUSY while a preallocation runs (its threads
//   write to the memory and cannot be stopped halfway through a page).
//   Pending futex waits are cancelled instead (they reject with
//   ECANCELED) and the munmap is deferred until their threads left the
//   kernel, so a waiter never sleeps on unmapped memory.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace tsqom {

struct Region {
  uint8_t* addr;
  size_t length;
  int prot;
  int flags;
  int fd;
  uint64_t fileOffset;

  // JS-thread state.
  int refs = 1;
  bool live = true;      // as the JS side sees it: not unmap()ed
  bool unmapped = false;  // munmap() done
  int preallocs = 0;
  int waiters = 0;

  // Read by waiter threads.
  std::atomic<bool> cancelWaits{false};
  std::mutex waitMutex;
  std::vector<uint32_t*> waitAddrs;  // words waiters sleep on, for cancellation

  void Ref() { ++refs; }
  void Unref();
  // munmap() now if the JS side gave the memory up and nothing runs on it.
  void MaybeMunmap();
};

class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // The Mapping behind a JS value, or a TypeError.
  static Mapping* From(Napi::Env env, Napi::Value v);

  explicit Mapping(const Napi::CallbackInfo& info);
  ~Mapping() override;

  Region* region() const { return region_; }
  // Throws EFAULT (with the given syscall name) once unmap() was called.
  void CheckLive(Napi::Env env, const char* syscall) const;
  // Throws a RangeError unless [offset, offset+len) lies inside the mapping.
  void CheckRange(Napi::Env env, uint64_t offset, uint64_t len) const;

 private:
  Napi::Value Buffer(const Napi::CallbackInfo& info);
  Napi::Value Unmap(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value GetAddress(const Napi::CallbackInfo& info);
  Napi::Value GetLength(const Napi::CallbackInfo& info);
  Napi::Value GetProt(const Napi::CallbackInfo& info);
  Napi::Value GetFlags(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value GetOffset(const Napi::CallbackInfo& info);
  Napi::Value GetIsMapped(const Napi::CallbackInfo& info);
  Napi::Value GetViewCount(const Napi::CallbackInfo& info);

  void PruneViews();

  Region* region_ = nullptr;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> views_;
  size_t pruneAt_ = 64;
};

}  // namespace tsqom
