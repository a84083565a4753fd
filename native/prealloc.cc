// Preallocation of mapped memory on worker threads.
//
// Each thread takes one slice of the range and faults it in chunk by chunk,
// with MADV_POPULATE_WRITE where the kernel has it (errors come back as an
// errno), else by touching one byte per page: read it and write the same
// value back, so file contents survive. A SIGBUS while touching (a file
// shorter than the mapping, hugetlb pool exhausted) is caught on that
// thread and reported as EFAULT. The touch fallback shares QEMU's limit:
// a store another process makes to the same byte between our read and our
// write is lost.
//
// The JS thread only receives progress (bytes done, a few times a second)
// and the result through a thread-safe function; it never waits.
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "common.h"
#include "mapping.h"

namespace tsqom {
namespace {

enum Method { kAuto = 0, kPopulate = 1, kTouch = 2 };

// Chunk size: small enough that mmap_lock is held briefly (the JS thread's
// own mmap/munmap calls, e.g. from V8's heap, must not wait long) and
// progress is smooth; large enough that the system call cost vanishes.
constexpr size_t kChunk = 1u << 20;
constexpr int64_t kReportIntervalNs = 50 * 1000 * 1000;

// --- SIGBUS recovery while touching pages --------------------------------

// volatile: the stores around the touch loop must not be optimised away,
// the signal handler reads them.
thread_local sigjmp_buf* volatile tlJump = nullptr;
std::mutex sigMutex;
int sigUsers = 0;
struct sigaction oldBus;

void BusHandler(int, siginfo_t*, void*) {
  if (tlJump) siglongjmp(*tlJump, 1);
  // Not a fault of ours: give the signal back to whoever had it and let
  // the faulting instruction run again.
  sigaction(SIGBUS, &oldBus, nullptr);
}

void AcquireBusHandler() {
  std::lock_guard<std::mutex> lock(sigMutex);
  if (sigUsers++ > 0) return;
  struct sigaction sa = {};
  sa.sa_sigaction = BusHandler;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &oldBus);
}

void ReleaseBusHandler() {
  std::lock_guard<std::mutex> lock(sigMutex);
  if (--sigUsers > 0) return;
  sigaction(SIGBUS, &oldBus, nullptr);
}

// Touches every page of [p, p+len); false if a SIGBUS hit.
bool TouchRange(uint8_t* p, size_t len, size_t pageSize) {
  sigjmp_buf jump;
  if (sigsetjmp(jump, 1)) {
    tlJump = nullptr;
    return false;
  }
  tlJump = &jump;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  for (size_t off = 0; off < len; off += pageSize) {
    volatile uint8_t* q = p + off;
    *q = *q;
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  tlJump = nullptr;
  return true;
}

// --- the job --------------------------------------------------------------

struct Event {
  bool done;
  size_t value;
};

struct PreallocJob;
void CallJs(Napi::Env env, Napi::Function, PreallocJob* job, Event* ev);
using Tsfn = Napi::TypedThreadSafeFunction<PreallocJob, Event, CallJs>;

struct PreallocJob {
  Region* region = nullptr;
  uint8_t* base = nullptr;
  size_t length = 0;
  size_t pageSize = 0;
  int method = kAuto;
  std::atomic<size_t> done{0};
  std::atomic<int> error{0};
  std::atomic<const char*> errorSyscall{nullptr};
  std::atomic<bool> stop{false};
  std::atomic<int> remaining{0};
  std::atomic<int64_t> lastReport{0};
  std::vector<std::thread> threads;
  std::vector<int> cpus;  // affinity of the worker threads; empty: inherit
  Napi::Promise::Deferred deferred;
  Napi::FunctionReference onProgress;
  Tsfn tsfn;
  // Highest value reported so far; only touched on the JS thread, where the
  // reports arrive one at a time but possibly out of order between threads.
  size_t reported = 0;

  explicit PreallocJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}

  void Fail(int err, const char* syscall) {
    int expected = 0;
    if (error.compare_exchange_strong(expected, err)) errorSyscall.store(syscall);
    stop.store(true);
  }

  void Progress(size_t n) {
    size_t now = done.fetch_add(n) + n;
    int64_t t = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
    int64_t last = lastReport.load();
    if (t - last >= kReportIntervalNs && lastReport.compare_exchange_strong(last, t)) {
      tsfn.NonBlockingCall(new Event{false, now});
    }
  }

  bool SetAffinity() {
    if (cpus.empty()) return true;
    int maxCpu = *std::max_element(cpus.begin(), cpus.end());
    cpu_set_t* set = CPU_ALLOC(maxCpu + 1);
    size_t size = CPU_ALLOC_SIZE(maxCpu + 1);
    CPU_ZERO_S(size, set);
    for (int c : cpus) CPU_SET_S(c, size, set);
    int rc = pthread_setaffinity_np(pthread_self(), size, set);
    CPU_FREE(set);
    if (rc != 0) Fail(rc, "pthread_setaffinity_np");
    return rc == 0;
  }

  void Run(size_t start, size_t len) {
    if (!SetAffinity()) len = 0;
    const size_t chunk = std::max(pageSize, kChunk / pageSize * pageSize);
    bool populate = method != kTouch;
    if (method == kAuto) {
      // A zero-length call tells whether the kernel knows the advice.
      if (madvise(base + start, 0, MADV_POPULATE_WRITE) < 0 && errno == EINVAL) populate = false;
    }
    if (!populate) AcquireBusHandler();
    for (size_t off = 0; off < len && !stop.load(std::memory_order_relaxed); off += chunk) {
      size_t n = std::min(chunk, len - off);
      uint8_t* p = base + start + off;
      if (populate) {
        int rc;
        do {
          rc = madvise(p, n, MADV_POPULATE_WRITE);
        } while (rc < 0 && (errno == EINTR || errno == EAGAIN));
        if (rc < 0) {
          Fail(errno, "madvise");
          break;
        }
      } else if (!TouchRange(p, n, pageSize)) {
        Fail(EFAULT, "prealloc");
        break;
      }
      Progress(n);
    }
    if (!populate) ReleaseBusHandler();
    if (remaining.fetch_sub(1) == 1) tsfn.NonBlockingCall(new Event{true, done.load()});
  }
};

void CallJs(Napi::Env env, Napi::Function, PreallocJob* job, Event* ev) {
  std::unique_ptr<Event> e(ev);
  if (env == nullptr) return;  // environment shutting down
  Napi::Error pending;
  bool hasPending = false;
  auto report = [&](size_t value) {
    if (job->onProgress.IsEmpty()) return;
    if (value < job->reported) value = job->reported;
    job->reported = value;
    try {
      job->onProgress.Call({Napi::Number::New(env, static_cast<double>(value)),
                            Napi::Number::New(env, static_cast<double>(job->length))});
    } catch (const Napi::Error& err) {
      if (!hasPending) {
        pending = err;
        hasPending = true;
      }
    }
  };
  if (!e->done) {
    report(e->value);
  } else {
    for (auto& t : job->threads) t.join();
    Region* r = job->region;
    r->preallocs--;
    r->MaybeMunmap();
    r->Unref();
    int err = job->error.load();
    if (err == 0) {
      report(e->value);
      job->deferred.Resolve(env.Undefined());
    } else {
      job->deferred.Reject(MakeErrnoError(env, err, job->errorSyscall.load()));
    }
    job->tsfn.Release();
    delete job;
  }
  if (hasPending) throw pending;
}

Napi::Value Prealloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = Mapping::From(env, info[0]);
  m->CheckLive(env, "prealloc");
  Region* r = m->region();
  uint64_t offset = ArgU64(info, 1, "offset");
  uint64_t length = ArgU64(info, 2, "length");
  m->CheckRange(env, offset, length);
  uint32_t threads = ArgUint32(info, 3, "threads");
  uint64_t pageSize = ArgU64(info, 4, "pageSize");
  if (threads < 1 || threads > 1024) ThrowRange(env, "threads must be in 1..1024");
  if (pageSize == 0 || (pageSize & (pageSize - 1))) ThrowRange(env, "pageSize must be a power of 2");
  Napi::Function onProgress;
  if (!IsMissing(info, 5)) {
    if (!info[5].IsFunction()) ThrowType(env, "onProgress must be a function");
    onProgress = info[5].As<Napi::Function>();
  }
  int method = ArgInt32Or(info, 6, "method", kAuto);
  if (method < kAuto || method > kTouch) ThrowRange(env, "method must be 0, 1 or 2");
  std::vector<int> cpus;
  if (!IsMissing(info, 7)) {
    if (!info[7].IsArray()) ThrowType(env, "cpus must be an array of CPU numbers");
    Napi::Array a = info[7].As<Napi::Array>();
    for (uint32_t k = 0; k < a.Length(); k++) {
      Napi::Value v = a.Get(k);
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (d < 0 || d > 65535 || d != static_cast<int>(d)) ThrowRange(env, "cpus must be CPU numbers in 0..65535");
      cpus.push_back(static_cast<int>(d));
    }
  }

  auto* job = new PreallocJob(env);
  Napi::Promise promise = job->deferred.Promise();
  if (!(r->prot & PROT_WRITE)) {
    // Touching a read-only page would kill the process with SIGSEGV.
    job->deferred.Reject(MakeErrnoError(env, EACCES, "prealloc"));
    delete job;
    return promise;
  }
  job->region = r;
  job->base = r->addr + offset;
  job->length = length;
  job->pageSize = pageSize;
  job->method = method;
  job->cpus = std::move(cpus);
  if (!onProgress.IsEmpty()) job->onProgress = Napi::Persistent(onProgress);

  size_t pages = (length + pageSize - 1) / pageSize;
  size_t n = std::max<size_t>(1, std::min<size_t>(threads, pages));
  job->remaining.store(static_cast<int>(n));
  job->tsfn = Tsfn::New(env, "tsqom.prealloc", 0, 1, job);
  r->Ref();
  r->preallocs++;
  // Slices in whole pages; the first `extra` threads take one page more.
  size_t per = pages / n, extra = pages % n, start = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = std::min<uint64_t>((per + (i < extra ? 1 : 0)) * pageSize, length - start);
    try {
      job->threads.emplace_back([job, start, len] { job->Run(start, len); });
    } catch (const std::system_error& e) {
      job->Fail(e.code().value() ? e.code().value() : EAGAIN, "pthread_create");
      int notStarted = static_cast<int>(n - i);
      if (job->remaining.fetch_sub(notStarted) == notStarted) job->tsfn.NonBlockingCall(new Event{true, job->done.load()});
      break;
    }
    start += len;
  }
  return promise;
}

}  // namespace

void InitPrealloc(Napi::Env env, Napi::Object exports) {
  exports.Set("prealloc", Napi::Function::New(env, Prealloc, "prealloc"));
}

}  // namespace tsqom
