// Atomics and futexes on mapped memory, for headers shared between
// processes. Futexes are the shared (not PRIVATE) kind, so a wake in one
// process reaches a waiter in another mapping the same memory.
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cmath>
#include <memory>
#include <system_error>
#include <thread>

#include "common.h"
#include "mapping.h"

namespace tsqom {
namespace {

// The address of an aligned `size`-byte word at `offset` of a live mapping.
template <typename T>
T* Word(const Napi::CallbackInfo& info, const char* op, bool write) {
  Napi::Env env = info.Env();
  Mapping* m = Mapping::From(env, info[0]);
  m->CheckLive(env, op);
  uint64_t offset = ArgU64(info, 1, "offset");
  m->CheckRange(env, offset, sizeof(T));
  if (offset % sizeof(T)) ThrowRange(env, "offset must be " + std::to_string(sizeof(T)) + "-byte aligned");
  int need = write ? (PROT_READ | PROT_WRITE) : PROT_READ;
  if ((m->region()->prot & need) != need) ThrowErrno(env, EACCES, op);
  return reinterpret_cast<T*>(m->region()->addr + offset);
}

Napi::Value U32(Napi::Env env, uint32_t v) { return Napi::Number::New(env, v); }
Napi::Value U64(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

Napi::Value Load32(const Napi::CallbackInfo& info) {
  return U32(info.Env(), __atomic_load_n(Word<uint32_t>(info, "atomicLoad32", false), __ATOMIC_SEQ_CST));
}
Napi::Value Store32(const Napi::CallbackInfo& info) {
  uint32_t* p = Word<uint32_t>(info, "atomicStore32", true);
  __atomic_store_n(p, ArgUint32(info, 2, "value"), __ATOMIC_SEQ_CST);
  return info.Env().Undefined();
}
Napi::Value Add32(const Napi::CallbackInfo& info) {
  uint32_t* p = Word<uint32_t>(info, "atomicAdd32", true);
  return U32(info.Env(), __atomic_fetch_add(p, ArgUint32(info, 2, "value"), __ATOMIC_SEQ_CST));
}
Napi::Value Or32(const Napi::CallbackInfo& info) {
  uint32_t* p = Word<uint32_t>(info, "atomicOr32", true);
  return U32(info.Env(), __atomic_fetch_or(p, ArgUint32(info, 2, "value"), __ATOMIC_SEQ_CST));
}
Napi::Value And32(const Napi::CallbackInfo& info) {
  uint32_t* p = Word<uint32_t>(info, "atomicAnd32", true);
  return U32(info.Env(), __atomic_fetch_and(p, ArgUint32(info, 2, "value"), __ATOMIC_SEQ_CST));
}
Napi::Value Exchange32(const Napi::CallbackInfo& info) {
  uint32_t* p = Word<uint32_t>(info, "atomicExchange32", true);
  return U32(info.Env(), __atomic_exchange_n(p, ArgUint32(info, 2, "value"), __ATOMIC_SEQ_CST));
}
Napi::Value CompareExchange32(const Napi::CallbackInfo& info) {
  uint32_t* p = Word<uint32_t>(info, "atomicCompareExchange32", true);
  uint32_t expected = ArgUint32(info, 2, "expected");
  uint32_t value = ArgUint32(info, 3, "value");
  __atomic_compare_exchange_n(p, &expected, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return U32(info.Env(), expected);  // the previous value either way
}

Napi::Value Load64(const Napi::CallbackInfo& info) {
  return U64(info.Env(), __atomic_load_n(Word<uint64_t>(info, "atomicLoad64", false), __ATOMIC_SEQ_CST));
}
Napi::Value Store64(const Napi::CallbackInfo& info) {
  uint64_t* p = Word<uint64_t>(info, "atomicStore64", true);
  __atomic_store_n(p, ArgBits64(info, 2, "value"), __ATOMIC_SEQ_CST);
  return info.Env().Undefined();
}
Napi::Value Add64(const Napi::CallbackInfo& info) {
  uint64_t* p = Word<uint64_t>(info, "atomicAdd64", true);
  return U64(info.Env(), __atomic_fetch_add(p, ArgBits64(info, 2, "value"), __ATOMIC_SEQ_CST));
}
Napi::Value CompareExchange64(const Napi::CallbackInfo& info) {
  uint64_t* p = Word<uint64_t>(info, "atomicCompareExchange64", true);
  uint64_t expected = ArgBits64(info, 2, "expected");
  uint64_t value = ArgBits64(info, 3, "value");
  __atomic_compare_exchange_n(p, &expected, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return U64(info.Env(), expected);
}

Napi::Value FutexWake(const Napi::CallbackInfo& info) {
  uint32_t* p = Word<uint32_t>(info, "futex", false);
  uint32_t count = ArgUint32(info, 2, "count");
  int n = std::min<uint32_t>(count, INT_MAX);
  long rc = syscall(SYS_futex, p, FUTEX_WAKE, n, nullptr, nullptr, 0);
  if (rc < 0) ThrowErrno(info.Env(), errno, "futex");
  return Napi::Number::New(info.Env(), static_cast<double>(rc));
}

// --- asynchronous wait -------------------------------------------------------

enum WaitResult { kOk, kNotEqual, kTimedOut, kCancelled, kError };

// A waiter re-checks for cancellation at least this often, which bounds
// how long a deferred munmap can wait for it (the wake that unmap() sends
// can race with the waiter entering the kernel).
constexpr int64_t kSliceNs = 200 * 1000 * 1000;

struct WaitJob;
void WaitDone(Napi::Env env, Napi::Function, WaitJob* job, int* unused);
using WaitTsfn = Napi::TypedThreadSafeFunction<WaitJob, int, WaitDone>;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct WaitJob {
  Region* region = nullptr;
  uint32_t* addr = nullptr;
  uint32_t expected = 0;
  int64_t deadline = -1;  // CLOCK_MONOTONIC ns; -1 = forever
  WaitResult result = kOk;
  int error = 0;
  std::thread thread;
  Napi::Promise::Deferred deferred;
  WaitTsfn tsfn;

  explicit WaitJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}

  void Run() {
    for (;;) {
      if (region->cancelWaits.load()) {
        result = kCancelled;
        break;
      }
      int64_t now = NowNs();
      int64_t until = now + kSliceNs;
      bool last = deadline >= 0 && deadline <= until;
      if (last) until = deadline;
      timespec ts;
      ts.tv_sec = until / 1000000000;
      ts.tv_nsec = until % 1000000000;
      long rc = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, expected, &ts, nullptr, FUTEX_BITSET_MATCH_ANY);
      if (rc == 0) {
        result = region->cancelWaits.load() ? kCancelled : kOk;
        break;
      }
      if (errno == EAGAIN) {
        result = kNotEqual;
        break;
      }
      if (errno == ETIMEDOUT) {
        if (last) {
          result = kTimedOut;
          break;
        }
        continue;
      }
      if (errno == EINTR) continue;
      result = kError;
      error = errno;
      break;
    }
    tsfn.NonBlockingCall(nullptr);
  }
};

void WaitDone(Napi::Env env, Napi::Function, WaitJob* job, int*) {
  if (env == nullptr) return;
  if (job->thread.joinable()) job->thread.join();
  Region* r = job->region;
  {
    std::lock_guard<std::mutex> lock(r->waitMutex);
    auto it = std::find(r->waitAddrs.begin(), r->waitAddrs.end(), job->addr);
    if (it != r->waitAddrs.end()) r->waitAddrs.erase(it);
  }
  r->waiters--;
  r->MaybeMunmap();
  r->Unref();
  switch (job->result) {
    case kOk:
      job->deferred.Resolve(Napi::String::New(env, "ok"));
      break;
    case kNotEqual:
      job->deferred.Resolve(Napi::String::New(env, "not-equal"));
      break;
    case kTimedOut:
      job->deferred.Resolve(Napi::String::New(env, "timed-out"));
      break;
    case kCancelled:
      job->deferred.Reject(MakeErrnoError(env, ECANCELED, "futex"));
      break;
    case kError:
      job->deferred.Reject(MakeErrnoError(env, job->error, "futex"));
      break;
  }
  job->tsfn.Release();
  delete job;
}

Napi::Value FutexWaitAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* p = Word<uint32_t>(info, "futex", false);
  Region* r = Mapping::From(env, info[0])->region();
  uint32_t expected = ArgUint32(info, 2, "expected");
  int64_t deadline = -1;
  if (!IsMissing(info, 3)) {
    if (!info[3].IsNumber()) ThrowType(env, "timeoutMs must be a number");
    double ms = info[3].As<Napi::Number>().DoubleValue();
    if (std::isnan(ms)) ThrowRange(env, "timeoutMs must not be NaN");
    if (ms >= 0 && std::isfinite(ms)) deadline = NowNs() + static_cast<int64_t>(ms * 1e6);
  }
  bool keepAlive = IsMissing(info, 4) ? true : info[4].ToBoolean().Value();

  auto* job = new WaitJob(env);
  Napi::Promise promise = job->deferred.Promise();
  job->region = r;
  job->addr = p;
  job->expected = expected;
  job->deadline = deadline;
  job->tsfn = WaitTsfn::New(env, "tsqom.futexWait", 0, 1, job);
  if (!keepAlive) job->tsfn.Unref(env);
  r->Ref();
  r->waiters++;
  {
    std::lock_guard<std::mutex> lock(r->waitMutex);
    r->waitAddrs.push_back(p);
  }
  try {
    job->thread = std::thread([job] { job->Run(); });
  } catch (const std::system_error& e) {
    job->result = kError;
    job->error = e.code().value() ? e.code().value() : EAGAIN;
    job->tsfn.NonBlockingCall(nullptr);
  }
  return promise;
}

}  // namespace

void InitAtomics(Napi::Env env, Napi::Object exports) {
  auto fn = [&](const char* name, Napi::Function::Callback cb) {
    exports.Set(name, Napi::Function::New(env, cb, name));
  };
  fn("atomicLoad32", Load32);
  fn("atomicStore32", Store32);
  fn("atomicAdd32", Add32);
  fn("atomicOr32", Or32);
  fn("atomicAnd32", And32);
  fn("atomicExchange32", Exchange32);
  fn("atomicCompareExchange32", CompareExchange32);
  fn("atomicLoad64", Load64);
  fn("atomicStore64", Store64);
  fn("atomicAdd64", Add64);
  fn("atomicCompareExchange64", CompareExchange64);
  fn("futexWake", FutexWake);
  fn("futexWaitAsync", FutexWaitAsync);
}

}  // namespace tsqom
