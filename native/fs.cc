// File descriptors: memfd, POSIX shm, plain files, seals, sizes, stat.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/memfd.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common.h"

namespace tsqom {
namespace {

template <typename F>
auto RetryEintr(F f) -> decltype(f()) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned flags = ArgUint32(info, 1, "flags");
  int fd = memfd_create(name.c_str(), flags);
  if (fd < 0) ThrowErrno(info.Env(), errno, "memfd_create");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value FcntlAddSeals(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int seals = ArgInt32(info, 1, "seals");
  if (fcntl(fd, F_ADD_SEALS, seals) < 0) ThrowErrno(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

Napi::Value FcntlGetSeals(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int r = fcntl(fd, F_GET_SEALS);
  if (r < 0) ThrowErrno(info.Env(), errno, "fcntl");
  return Napi::Number::New(info.Env(), r);
}

Napi::Value FcntlGetFl(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int r = fcntl(fd, F_GETFL);
  if (r < 0) ThrowErrno(info.Env(), errno, "fcntl");
  return Napi::Number::New(info.Env(), r);
}

Napi::Value FcntlSetFl(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int flags = ArgInt32(info, 1, "flags");
  if (fcntl(fd, F_SETFL, flags) < 0) ThrowErrno(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

Napi::Value FcntlGetFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int r = fcntl(fd, F_GETFD);
  if (r < 0) ThrowErrno(info.Env(), errno, "fcntl");
  return Napi::Number::New(info.Env(), r);
}

Napi::Value FcntlSetFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int flags = ArgInt32(info, 1, "flags");
  if (fcntl(fd, F_SETFD, flags) < 0) ThrowErrno(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

Napi::Value ShmOpen(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  int oflag = ArgInt32(info, 1, "oflag");
  mode_t mode = ArgUint32(info, 2, "mode");
  int fd = RetryEintr([&] { return shm_open(name.c_str(), oflag, mode); });
  if (fd < 0) ThrowErrno(info.Env(), errno, "shm_open");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value ShmUnlink(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  if (shm_unlink(name.c_str()) < 0) ThrowErrno(info.Env(), errno, "shm_unlink");
  return info.Env().Undefined();
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  int flags = ArgInt32(info, 1, "flags");
  mode_t mode = IsMissing(info, 2) ? 0 : ArgUint32(info, 2, "mode");
  int fd = RetryEintr([&] { return open(path.c_str(), flags, mode); });
  if (fd < 0) ThrowErrno(info.Env(), errno, "open");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  // Linux releases the descriptor even when close() reports EINTR, so it
  // is never retried.
  if (close(fd) < 0 && errno != EINTR) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

Napi::Value Dup(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (r < 0) ThrowErrno(info.Env(), errno, "fcntl");
  return Napi::Number::New(info.Env(), r);
}

Napi::Value Ftruncate(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  uint64_t len = ArgU64(info, 1, "length");
  if (RetryEintr([&] { return ftruncate(fd, static_cast<off_t>(len)); }) < 0) {
    ThrowErrno(info.Env(), errno, "ftruncate");
  }
  return info.Env().Undefined();
}

Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int mode = ArgInt32(info, 1, "mode");
  uint64_t off = ArgU64(info, 2, "offset");
  uint64_t len = ArgU64(info, 3, "length");
  if (RetryEintr([&] { return fallocate(fd, mode, static_cast<off_t>(off), static_cast<off_t>(len)); }) < 0) {
    ThrowErrno(info.Env(), errno, "fallocate");
  }
  return info.Env().Undefined();
}

Napi::Object StatObject(Napi::Env env, const struct stat& st) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, static_cast<double>(st.st_size)));
  o.Set("mode", Napi::Number::New(env, st.st_mode));
  o.Set("dev", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_dev)));
  o.Set("ino", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_ino)));
  o.Set("nlink", Napi::Number::New(env, static_cast<double>(st.st_nlink)));
  o.Set("uid", Napi::Number::New(env, st.st_uid));
  o.Set("gid", Napi::Number::New(env, st.st_gid));
  o.Set("rdev", Napi::BigInt::New(env, static_cast<uint64_t>(st.st_rdev)));
  o.Set("blksize", Napi::Number::New(env, static_cast<double>(st.st_blksize)));
  o.Set("blocks", Napi::Number::New(env, static_cast<double>(st.st_blocks)));
  return o;
}

Napi::Value Fstat(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  struct stat st;
  if (fstat(fd, &st) < 0) ThrowErrno(info.Env(), errno, "fstat");
  return StatObject(info.Env(), st);
}

Napi::Value Stat(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  struct stat st;
  if (stat(path.c_str(), &st) < 0) ThrowErrno(info.Env(), errno, "stat");
  return StatObject(info.Env(), st);
}

Napi::Object StatfsObject(Napi::Env env, const struct statfs& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(s.f_type))));
  o.Set("bsize", Napi::Number::New(env, static_cast<double>(s.f_bsize)));
  o.Set("frsize", Napi::Number::New(env, static_cast<double>(s.f_frsize)));
  o.Set("blocks", Napi::Number::New(env, static_cast<double>(s.f_blocks)));
  o.Set("bfree", Napi::Number::New(env, static_cast<double>(s.f_bfree)));
  o.Set("bavail", Napi::Number::New(env, static_cast<double>(s.f_bavail)));
  o.Set("files", Napi::Number::New(env, static_cast<double>(s.f_files)));
  o.Set("ffree", Napi::Number::New(env, static_cast<double>(s.f_ffree)));
  o.Set("namelen", Napi::Number::New(env, static_cast<double>(s.f_namelen)));
  o.Set("flags", Napi::Number::New(env, static_cast<double>(s.f_flags)));
  return o;
}

Napi::Value Fstatfs(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  struct statfs s;
  if (RetryEintr([&] { return fstatfs(fd, &s); }) < 0) ThrowErrno(info.Env(), errno, "fstatfs");
  return StatfsObject(info.Env(), s);
}

Napi::Value Statfs(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  struct statfs s;
  if (RetryEintr([&] { return statfs(path.c_str(), &s); }) < 0) ThrowErrno(info.Env(), errno, "statfs");
  return StatfsObject(info.Env(), s);
}

Napi::Value Unlink(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  if (unlink(path.c_str()) < 0) ThrowErrno(info.Env(), errno, "unlink");
  return info.Env().Undefined();
}

Napi::Value Mkstemp(const Napi::CallbackInfo& info) {
  std::string tmpl = ArgString(info, 0, "template");
  int flags = ArgInt32Or(info, 1, "flags", O_CLOEXEC);
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  int fd = mkostemp(buf.data(), flags);
  if (fd < 0) ThrowErrno(info.Env(), errno, "mkstemp");
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("fd", Napi::Number::New(info.Env(), fd));
  o.Set("path", Napi::String::New(info.Env(), buf.data()));
  return o;
}

Napi::Value Pread(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  Bytes b = ArgBytes(info, 1, "buffer");
  uint64_t off = ArgU64(info, 2, "offset");
  ssize_t n = RetryEintr([&] { return pread(fd, b.data, b.length, static_cast<off_t>(off)); });
  if (n < 0) ThrowErrno(info.Env(), errno, "pread");
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value Pwrite(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  Bytes b = ArgBytes(info, 1, "data");
  uint64_t off = ArgU64(info, 2, "offset");
  ssize_t n = RetryEintr([&] { return pwrite(fd, b.data, b.length, static_cast<off_t>(off)); });
  if (n < 0) ThrowErrno(info.Env(), errno, "pwrite");
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// read(2) into the given buffer; null on EAGAIN so nonblocking callers can
// wait for readiness.
Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  Bytes b = ArgBytes(info, 1, "buffer");
  ssize_t n = RetryEintr([&] { return read(fd, b.data, b.length); });
  if (n < 0) {
    if (errno == EAGAIN) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "read");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  Bytes b = ArgBytes(info, 1, "data");
  ssize_t n = RetryEintr([&] { return write(fd, b.data, b.length); });
  if (n < 0) {
    if (errno == EAGAIN) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "write");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value Flock(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int op = ArgInt32(info, 1, "operation");
  if (RetryEintr([&] { return flock(fd, op); }) < 0) {
    if (errno == EWOULDBLOCK && (op & LOCK_NB)) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), errno, "flock");
  }
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value SchedGetaffinity(const Napi::CallbackInfo& info) {
  int pid = ArgInt32Or(info, 0, "pid", 0);
  cpu_set_t* set = nullptr;
  size_t ncpus = 1024, size = 0;
  for (;;) {
    set = CPU_ALLOC(ncpus);
    size = CPU_ALLOC_SIZE(ncpus);
    CPU_ZERO_S(size, set);
    if (sched_getaffinity(pid, size, set) == 0) break;
    int err = errno;
    CPU_FREE(set);
    if (err != EINVAL || ncpus >= (1u << 20)) ThrowErrno(info.Env(), err, "sched_getaffinity");
    ncpus *= 2;
  }
  Napi::Array cpus = Napi::Array::New(info.Env());
  uint32_t k = 0;
  for (size_t c = 0; c < ncpus; c++) {
    if (CPU_ISSET_S(c, size, set)) cpus.Set(k++, Napi::Number::New(info.Env(), static_cast<double>(c)));
  }
  CPU_FREE(set);
  return cpus;
}

Napi::Value Getpid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getpid()); }

Napi::Value GetPageSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(sysconf(_SC_PAGESIZE)));
}

Napi::Value Sysconf(const Napi::CallbackInfo& info) {
  int name = ArgInt32(info, 0, "name");
  errno = 0;
  long r = sysconf(name);
  if (r == -1 && errno != 0) ThrowErrno(info.Env(), errno, "sysconf");
  return Napi::Number::New(info.Env(), static_cast<double>(r));
}

Napi::Value Strerror(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ErrnoMessage(ArgInt32(info, 0, "errno")));
}

Napi::Value ErrnoNameJs(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ErrnoName(ArgInt32(info, 0, "errno")));
}

}  // namespace

void InitFs(Napi::Env env, Napi::Object exports) {
  auto fn = [&](const char* name, Napi::Function::Callback cb) {
    exports.Set(name, Napi::Function::New(env, cb, name));
  };
  fn("memfdCreate", MemfdCreate);
  fn("fcntlAddSeals", FcntlAddSeals);
  fn("fcntlGetSeals", FcntlGetSeals);
  fn("fcntlGetFl", FcntlGetFl);
  fn("fcntlSetFl", FcntlSetFl);
  fn("fcntlGetFd", FcntlGetFd);
  fn("fcntlSetFd", FcntlSetFd);
  fn("shmOpen", ShmOpen);
  fn("shmUnlink", ShmUnlink);
  fn("open", Open);
  fn("close", Close);
  fn("dup", Dup);
  fn("ftruncate", Ftruncate);
  fn("fallocate", Fallocate);
  fn("fstat", Fstat);
  fn("stat", Stat);
  fn("fstatfs", Fstatfs);
  fn("statfs", Statfs);
  fn("unlink", Unlink);
  fn("mkstemp", Mkstemp);
  fn("pread", Pread);
  fn("pwrite", Pwrite);
  fn("read", Read);
  fn("write", Write);
  fn("flock", Flock);
  fn("schedGetaffinity", SchedGetaffinity);
  fn("getpid", Getpid);
  fn("getPageSize", GetPageSize);
  fn("sysconf", Sysconf);
  fn("strerror", Strerror);
  fn("errnoName", ErrnoNameJs);
}

}  // namespace tsqom
