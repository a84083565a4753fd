// Context threads and CPU affinity (the OS side of QEMU's thread-context).
//
// A context thread is a real OS thread that does nothing but wait until it
// is told to stop: tools (and tsqom) read its tid and set its affinity with
// sched_setaffinity, as they would on QEMU's "TC <id>" thread. The affinity
// calls are thin: any tid, the kernel's errno unchanged.
//
// Context threads are kept in a map that is never destroyed, so a process
// that exits with one still waiting does not trip over a joinable thread.
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

#include "common.h"

namespace tsqom {
namespace {

struct ContextThread {
  pthread_t thread{};
  std::mutex mutex;
  std::condition_variable cv;
  pid_t tid = 0;
  bool stop = false;
};

std::mutex& RegistryMutex() {
  static auto* m = new std::mutex();
  return *m;
}

std::map<pid_t, ContextThread*>& Registry() {
  static auto* r = new std::map<pid_t, ContextThread*>();
  return *r;
}

void* ContextThreadMain(void* opaque) {
  auto* ct = static_cast<ContextThread*>(opaque);
  std::unique_lock<std::mutex> lock(ct->mutex);
  ct->tid = static_cast<pid_t>(syscall(SYS_gettid));
  ct->cv.notify_all();
  ct->cv.wait(lock, [ct] { return ct->stop; });
  return nullptr;
}

// contextThreadCreate(): the new thread's tid.
Napi::Value ContextThreadCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* ct = new ContextThread();
  // The thread only waits: a small stack is plenty.
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int rc = pthread_create(&ct->thread, &attr, ContextThreadMain, ct);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete ct;
    ThrowErrno(env, rc, "pthread_create");
  }
  pid_t tid;
  {
    std::unique_lock<std::mutex> lock(ct->mutex);
    ct->cv.wait(lock, [ct] { return ct->tid != 0; });
    tid = ct->tid;
  }
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry()[tid] = ct;
  return Napi::Number::New(env, tid);
}

// contextThreadStop(tid): ends and joins a context thread.
Napi::Value ContextThreadStop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = ArgInt32(info, 0, "tid");
  ContextThread* ct;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    auto it = Registry().find(tid);
    if (it == Registry().end()) ThrowErrno(env, ESRCH, "pthread_join");
    ct = it->second;
    Registry().erase(it);
  }
  {
    std::lock_guard<std::mutex> lock(ct->mutex);
    ct->stop = true;
  }
  ct->cv.notify_all();
  pthread_join(ct->thread, nullptr);
  delete ct;
  return env.Undefined();
}

// schedSetaffinity(tid, cpus): sched_setaffinity(2) with a mask of `cpus`.
Napi::Value SchedSetaffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = ArgInt32(info, 0, "tid");
  if (info.Length() < 2 || !info[1].IsArray()) ThrowType(env, "cpus must be an array of CPU numbers");
  Napi::Array a = info[1].As<Napi::Array>();
  std::vector<int> cpus;
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (d < 0 || d > 65535 || d != static_cast<int>(d)) ThrowRange(env, "cpus must be CPU numbers in 0..65535");
    cpus.push_back(static_cast<int>(d));
  }
  int nbits = cpus.empty() ? 1 : *std::max_element(cpus.begin(), cpus.end()) + 1;
  cpu_set_t* set = CPU_ALLOC(nbits);
  if (!set) ThrowErrno(env, ENOMEM, "sched_setaffinity");
  size_t size = CPU_ALLOC_SIZE(nbits);
  CPU_ZERO_S(size, set);
  for (int c : cpus) CPU_SET_S(c, size, set);
  int rc = sched_setaffinity(tid, size, set);
  int err = errno;
  CPU_FREE(set);
  if (rc < 0) ThrowErrno(env, err, "sched_setaffinity");
  return env.Undefined();
}

// schedGetaffinity(tid): the CPUs in the thread's affinity mask.
Napi::Value SchedGetaffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = ArgInt32(info, 0, "tid");
  // Grow the mask until the kernel's fits (EINVAL means too small).
  for (int nbits = 1024;; nbits *= 2) {
    cpu_set_t* set = CPU_ALLOC(nbits);
    if (!set) ThrowErrno(env, ENOMEM, "sched_getaffinity");
    size_t size = CPU_ALLOC_SIZE(nbits);
    CPU_ZERO_S(size, set);
    int rc = sched_getaffinity(tid, size, set);
    int err = errno;
    if (rc < 0) {
      CPU_FREE(set);
      if (err == EINVAL && nbits < (1 << 20)) continue;
      ThrowErrno(env, err, "sched_getaffinity");
    }
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    for (int c = 0; c < static_cast<int>(size * 8); c++) {
      if (CPU_ISSET_S(c, size, set)) out.Set(n++, Napi::Number::New(env, c));
    }
    CPU_FREE(set);
    return out;
  }
}

}  // namespace

void InitThread(Napi::Env env, Napi::Object exports) {
  exports.Set("contextThreadCreate", Napi::Function::New(env, ContextThreadCreate, "contextThreadCreate"));
  exports.Set("contextThreadStop", Napi::Function::New(env, ContextThreadStop, "contextThreadStop"));
  exports.Set("schedSetaffinity", Napi::Function::New(env, SchedSetaffinity, "schedSetaffinity"));
  exports.Set("schedGetaffinity", Napi::Function::New(env, SchedGetaffinity, "schedGetaffinity"));
}

}  // namespace tsqom
