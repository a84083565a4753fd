// tsqom's native layer: thin, errno-faithful wrappers over the host's
// system calls. Policy lives in TypeScript (src/native/).
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/memfd.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common.h"

namespace tsqom {
namespace {

// Bumped whenever the surface seen by src/native/index.ts changes.
constexpr int kAbiVersion = 7;

Napi::Value AbiVersion(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), kAbiVersion); }

// TypeScript hands over its OsError class once, so that every errno error
// the addon throws (or rejects with) is already an OsError.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowType(info.Env(), "setErrorClass expects a constructor");
  GetData(info.Env())->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// The host's values, so TypeScript can check the numbers it hard-codes.
Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
#define C(name) SetConst(c, #name, name)
  C(O_RDONLY); C(O_WRONLY); C(O_RDWR); C(O_CREAT); C(O_EXCL); C(O_TRUNC); C(O_APPEND); C(O_NONBLOCK);
  C(O_CLOEXEC); C(O_DIRECTORY); C(O_NOFOLLOW); C(O_TMPFILE); C(O_DIRECT); C(O_SYNC); C(O_DSYNC); C(O_NOCTTY);
  C(FD_CLOEXEC);
  C(PROT_NONE); C(PROT_READ); C(PROT_WRITE); C(PROT_EXEC);
  C(MAP_SHARED); C(MAP_PRIVATE); C(MAP_SHARED_VALIDATE); C(MAP_ANONYMOUS); C(MAP_NORESERVE); C(MAP_POPULATE);
  C(MAP_HUGETLB); C(MAP_LOCKED); C(MAP_SYNC); C(MAP_HUGE_SHIFT);
  C(MFD_CLOEXEC); C(MFD_ALLOW_SEALING); C(MFD_HUGETLB); C(MFD_HUGE_SHIFT);
#ifdef MFD_NOEXEC_SEAL
  C(MFD_NOEXEC_SEAL); C(MFD_EXEC);
#endif
  C(LOCK_SH); C(LOCK_EX); C(LOCK_NB); C(LOCK_UN);
  C(F_SEAL_SEAL); C(F_SEAL_SHRINK); C(F_SEAL_GROW); C(F_SEAL_WRITE); C(F_SEAL_FUTURE_WRITE);
  C(MADV_NORMAL); C(MADV_DONTNEED); C(MADV_REMOVE); C(MADV_DONTFORK); C(MADV_DOFORK); C(MADV_MERGEABLE);
  C(MADV_UNMERGEABLE); C(MADV_HUGEPAGE); C(MADV_NOHUGEPAGE); C(MADV_DONTDUMP); C(MADV_DODUMP);
  C(MADV_POPULATE_READ); C(MADV_POPULATE_WRITE); C(MADV_FREE);
  C(MS_ASYNC); C(MS_SYNC); C(MS_INVALIDATE);
  C(FALLOC_FL_KEEP_SIZE); C(FALLOC_FL_PUNCH_HOLE);
  C(EFD_CLOEXEC); C(EFD_NONBLOCK); C(EFD_SEMAPHORE);
  C(AF_UNIX); C(SOCK_STREAM); C(SOCK_DGRAM); C(SOCK_SEQPACKET); C(SOCK_NONBLOCK); C(SOCK_CLOEXEC);
  C(SHUT_RD); C(SHUT_WR); C(SHUT_RDWR); C(SOL_SOCKET); C(SO_ERROR); C(SO_SNDBUF); C(SO_RCVBUF); C(SO_PASSCRED);
  C(AF_INET); C(AF_INET6); C(AF_UNSPEC); C(SO_REUSEADDR); C(IPPROTO_TCP); C(TCP_NODELAY); C(IPPROTO_IPV6);
  C(IPV6_V6ONLY); C(AI_PASSIVE); C(AI_CANONNAME); C(AI_NUMERICHOST); C(AI_V4MAPPED); C(AI_ADDRCONFIG);
  C(AI_NUMERICSERV);
  C(MSG_NOSIGNAL); C(MSG_CMSG_CLOEXEC); C(MSG_CTRUNC); C(MSG_TRUNC); C(MSG_DONTWAIT); C(MSG_PEEK);
  C(UV_READABLE); C(UV_WRITABLE); C(UV_DISCONNECT); C(UV_PRIORITIZED);
  C(_SC_PAGESIZE); C(_SC_NPROCESSORS_ONLN);
#undef C
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("abiVersion", Napi::Function::New(env, AbiVersion, "abiVersion"));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("constants", Constants(env));
  InitFs(env, exports);
  InitMapping(env, exports);
  InitPrealloc(env, exports);
  InitAtomics(env, exports);
  InitNet(env, exports);
  InitFdWatcher(env, exports);
  InitGuarded(env, exports);
  InitFsAt(env, exports);
  InitMemory(env, exports);
  InitThread(env, exports);
  return exports;
}

}  // namespace
}  // namespace tsqom

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tsqom::Init(env, exports); }

NODE_API_MODULE(tsqom_native, InitModule)
