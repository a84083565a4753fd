// Guarded copies to and from mapped memory that another process may
// shrink under us (a peer's memfd, a named shared memory object). Touching
// a page past the end of the file raises SIGBUS; here that fault ends the
// copy with EFAULT instead of the process.
//
// How: one SIGBUS/SIGSEGV handler, installed on first use. A copy records
// the range it is allowed to fault in (per thread) and a jump buffer; the
// handler jumps back when the faulting address lies in that range and
// hands every other fault to whatever handler was there before (Node's, or
// the default action), so crashes elsewhere stay crashes.
//
// The handler runs with SA_NODEFER so that leaving it by siglongjmp needs
// no signal-mask restore: the copy uses sigsetjmp(..., 0), which costs no
// system call on the fast path.
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "common.h"
#include "mapping.h"

namespace tsqom {
namespace {

struct Guard {
  sigjmp_buf jump;
  uintptr_t lo;
  uintptr_t hi;
  volatile sig_atomic_t active;
};

// initial-exec: the handler must not make the dynamic loader allocate a
// TLS block for a thread that never used a guard.
__attribute__((tls_model("initial-exec"))) thread_local Guard* tlsGuard = nullptr;

struct sigaction prevBus;
struct sigaction prevSegv;
std::once_flag installOnce;
int installError = 0;

void Chain(int sig, siginfo_t* si, void* uc) {
  const struct sigaction& prev = sig == SIGBUS ? prevBus : prevSegv;
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction != nullptr) {
      prev.sa_sigaction(sig, si, uc);
      return;
    }
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    return;
  }
  // Default action: a hardware fault re-raises itself when the faulting
  // instruction runs again; a signal sent by kill() has to be raised anew.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  if (si == nullptr || si->si_code <= 0) raise(sig);
}

void Handler(int sig, siginfo_t* si, void* uc) {
  Guard* g = tlsGuard;
  if (g != nullptr && g->active && si != nullptr && si->si_code > 0) {
    uintptr_t a = reinterpret_cast<uintptr_t>(si->si_addr);
    if (a >= g->lo && a < g->hi) {
      g->active = 0;
      siglongjmp(g->jump, 1);
    }
  }
  Chain(sig, si, uc);
}

void Install() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = Handler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, &prevBus) < 0 || sigaction(SIGSEGV, &sa, &prevSegv) < 0) installError = errno;
}

// Copies n bytes; a fault inside [lo, hi) makes it return EFAULT.
int GuardedCopy(void* dst, const void* src, size_t n, uintptr_t lo, uintptr_t hi) {
  std::call_once(installOnce, Install);
  if (installError != 0) return installError;
  Guard g;
  g.lo = lo;
  g.hi = hi;
  g.active = 0;
  Guard* const outer = tlsGuard;
  tlsGuard = &g;
  if (sigsetjmp(g.jump, 0) != 0) {
    tlsGuard = outer;
    return EFAULT;
  }
  g.active = 1;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  memcpy(dst, src, n);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  g.active = 0;
  tlsGuard = outer;
  return 0;
}

// Checks shared by both directions. Returns an errno (0: go ahead); throws
// a RangeError for a range the caller got wrong.
int Check(Napi::Env env, Mapping* m, uint64_t offset, uint64_t len, int prot) {
  Region* r = m->region();
  if (!r->live) return EFAULT;
  if (!(r->prot & prot)) return EACCES;
  m->CheckRange(env, offset, len);
  return 0;
}

// guardedRead(mapping, offset, target): copies target.byteLength bytes at
// `offset` into `target`. Returns 0, or the errno: EFAULT when the memory
// faulted (or was unmapped), EACCES without PROT_READ.
Napi::Value GuardedRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = Mapping::From(env, info[0]);
  uint64_t offset = ArgU64(info, 1, "offset");
  Bytes b = ArgBytes(info, 2, "target");
  int err = Check(env, m, offset, b.length, PROT_READ);
  if (err == 0 && b.length > 0) {
    Region* r = m->region();
    uintptr_t lo = reinterpret_cast<uintptr_t>(r->addr);
    err = GuardedCopy(b.data, r->addr + offset, b.length, lo, lo + r->length);
  }
  return Napi::Number::New(env, err);
}

// guardedWrite(mapping, offset, source): copies `source` into the mapping
// at `offset`. Returns 0 or the errno, as guardedRead (EACCES without
// PROT_WRITE).
Napi::Value GuardedWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = Mapping::From(env, info[0]);
  uint64_t offset = ArgU64(info, 1, "offset");
  Bytes b = ArgBytes(info, 2, "source");
  int err = Check(env, m, offset, b.length, PROT_WRITE);
  if (err == 0 && b.length > 0) {
    Region* r = m->region();
    uintptr_t lo = reinterpret_cast<uintptr_t>(r->addr);
    err = GuardedCopy(r->addr + offset, b.data, b.length, lo, lo + r->length);
  }
  return Napi::Number::New(env, err);
}

// A full memory barrier, touching no memory (for rings in foreign memory,
// where a locked instruction on the ring itself could fault).
Napi::Value Fence(const Napi::CallbackInfo& info) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return info.Env().Undefined();
}

}  // namespace

void InitGuarded(Napi::Env env, Napi::Object exports) {
  exports.Set("guardedRead", Napi::Function::New(env, GuardedRead, "guardedRead"));
  exports.Set("guardedWrite", Napi::Function::New(env, GuardedWrite, "guardedWrite"));
  exports.Set("fence", Napi::Function::New(env, Fence, "fence"));
}

}  // namespace tsqom
