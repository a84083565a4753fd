// Directory-relative file system calls (the *at() family) for a file
// server that must never resolve a path string outside a directory it
// holds open. Unlike the rest of the addon these wrappers do not throw on
// failure: they return -errno, because a file server turns most failures
// straight into a reply and an exception per ENOENT would dominate its
// cost. Wrong argument types still throw TypeError (programming errors).
// Names are byte strings (Uint8Array) or JS strings; a byte name stops at
// its first NUL, as the kernel would read it.
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <vector>

#include <cerrno>
#include <cstring>
#include <string>

#include "common.h"

namespace tsqom {
namespace {

template <typename F>
auto Eintr(F f) -> decltype(f()) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

Napi::Value Result(Napi::Env env, long long r) {
  return Napi::Number::New(env, r < 0 ? -errno : static_cast<double>(r));
}

std::string ArgName(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() > i && info[i].IsString()) return info[i].As<Napi::String>().Utf8Value();
  Bytes b = ArgBytes(info, i, name);
  const void* nul = memchr(b.data, 0, b.length);
  size_t n = nul != nullptr ? static_cast<const uint8_t*>(nul) - b.data : b.length;
  return std::string(reinterpret_cast<const char*>(b.data), n);
}

int64_t ArgI64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info.Length() > i ? info[i] : info.Env().Undefined();
  if (v.IsBigInt()) {
    bool lossless = true;
    int64_t r = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) ThrowRange(info.Env(), std::string(name) + " does not fit in 64 bits");
    return r;
  }
  if (!v.IsNumber()) ThrowType(info.Env(), std::string(name) + " must be a number or a bigint");
  return static_cast<int64_t>(v.As<Napi::Number>().DoubleValue());
}

Napi::Float64Array ArgF64(const Napi::CallbackInfo& info, size_t i, size_t min, const char* name) {
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    ThrowType(info.Env(), std::string(name) + " must be a Float64Array");
  }
  Napi::Float64Array a = info[i].As<Napi::Float64Array>();
  if (a.ElementLength() < min) ThrowRange(info.Env(), std::string(name) + " is too short");
  return a;
}

// openat(dirfd, name, flags, mode) -> fd
Napi::Value OpenAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0, "dirfd");
  std::string name = ArgName(info, 1, "name");
  int flags = ArgInt32(info, 2, "flags");
  mode_t mode = IsMissing(info, 3) ? 0 : ArgUint32(info, 3, "mode");
  return Result(info.Env(), Eintr([&] { return openat(dirfd, name.c_str(), flags | O_CLOEXEC, mode); }));
}

// fstatat(dirfd, name, flags, out): out gets dev, ino, mode, nlink, uid,
// gid, rdev, size, blksize, blocks, atime, atimensec, mtime, mtimensec,
// ctime, ctimensec, rdev major, rdev minor.
Napi::Value FstatAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0, "dirfd");
  std::string name = ArgName(info, 1, "name");
  int flags = ArgInt32(info, 2, "flags");
  Napi::Float64Array out = ArgF64(info, 3, 16, "out");
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, flags) < 0) return Napi::Number::New(info.Env(), -errno);
  double* o = out.Data();
  o[0] = static_cast<double>(st.st_dev);
  o[1] = static_cast<double>(st.st_ino);
  o[2] = st.st_mode;
  o[3] = static_cast<double>(st.st_nlink);
  o[4] = st.st_uid;
  o[5] = st.st_gid;
  o[6] = static_cast<double>(st.st_rdev);
  o[7] = static_cast<double>(st.st_size);
  o[8] = static_cast<double>(st.st_blksize);
  o[9] = static_cast<double>(st.st_blocks);
  o[10] = static_cast<double>(st.st_atim.tv_sec);
  o[11] = static_cast<double>(st.st_atim.tv_nsec);
  o[12] = static_cast<double>(st.st_mtim.tv_sec);
  o[13] = static_cast<double>(st.st_mtim.tv_nsec);
  o[14] = static_cast<double>(st.st_ctim.tv_sec);
  o[15] = static_cast<double>(st.st_ctim.tv_nsec);
  return Napi::Number::New(info.Env(), 0);
}

Napi::Value MkdirAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0, "dirfd");
  std::string name = ArgName(info, 1, "name");
  mode_t mode = ArgUint32(info, 2, "mode");
  return Result(info.Env(), mkdirat(dirfd, name.c_str(), mode));
}

Napi::Value MknodAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0, "dirfd");
  std::string name = ArgName(info, 1, "name");
  mode_t mode = ArgUint32(info, 2, "mode");
  dev_t dev = static_cast<dev_t>(ArgU64(info, 3, "dev"));
  return Result(info.Env(), mknodat(dirfd, name.c_str(), mode, dev));
}

Napi::Value UnlinkAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0, "dirfd");
  std::string name = ArgName(info, 1, "name");
  int flags = ArgInt32(info, 2, "flags");
  return Result(info.Env(), unlinkat(dirfd, name.c_str(), flags));
}

Napi::Value Renameat2(const Napi::CallbackInfo& info) {
  int olddir = ArgInt32(info, 0, "olddirfd");
  std::string oldname = ArgName(info, 1, "oldname");
  int newdir = ArgInt32(info, 2, "newdirfd");
  std::string newname = ArgName(info, 3, "newname");
  unsigned flags = ArgUint32(info, 4, "flags");
  return Result(info.Env(),
                syscall(SYS_renameat2, olddir, oldname.c_str(), newdir, newname.c_str(), flags));
}

Napi::Value LinkAt(const Napi::CallbackInfo& info) {
  int olddir = ArgInt32(info, 0, "olddirfd");
  std::string oldname = ArgName(info, 1, "oldname");
  int newdir = ArgInt32(info, 2, "newdirfd");
  std::string newname = ArgName(info, 3, "newname");
  int flags = ArgInt32(info, 4, "flags");
  return Result(info.Env(), linkat(olddir, oldname.c_str(), newdir, newname.c_str(), flags));
}

Napi::Value SymlinkAt(const Napi::CallbackInfo& info) {
  std::string target = ArgName(info, 0, "target");
  int dirfd = ArgInt32(info, 1, "dirfd");
  std::string name = ArgName(info, 2, "name");
  return Result(info.Env(), symlinkat(target.c_str(), dirfd, name.c_str()));
}

// readlinkat(dirfd, name) -> Buffer with the target, or -errno.
Napi::Value ReadlinkAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0, "dirfd");
  std::string name = ArgName(info, 1, "name");
  char buf[PATH_MAX + 1];
  ssize_t r = readlinkat(dirfd, name.c_str(), buf, sizeof buf);
  if (r < 0) return Napi::Number::New(info.Env(), -errno);
  if (static_cast<size_t>(r) >= sizeof buf) return Napi::Number::New(info.Env(), -ENAMETOOLONG);
  return Napi::Buffer<char>::Copy(info.Env(), buf, static_cast<size_t>(r));
}

Napi::Value FchmodAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0, "dirfd");
  std::string name = ArgName(info, 1, "name");
  mode_t mode = ArgUint32(info, 2, "mode");
  int flags = ArgInt32(info, 3, "flags");
  return Result(info.Env(), fchmodat(dirfd, name.c_str(), mode, flags));
}

Napi::Value FaccessAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0, "dirfd");
  std::string name = ArgName(info, 1, "name");
  int mode = ArgInt32(info, 2, "mode");
  int flags = ArgInt32(info, 3, "flags");
  return Result(info.Env(), faccessat(dirfd, name.c_str(), mode, flags));
}

Napi::Value Fchmod(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  mode_t mode = ArgUint32(info, 1, "mode");
  return Result(info.Env(), fchmod(fd, mode));
}

// fchownat(dirfd, name, uid, gid, flags); -1 leaves an id unchanged.
Napi::Value FchownAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0, "dirfd");
  std::string name = ArgName(info, 1, "name");
  uid_t uid = static_cast<uid_t>(ArgInt32(info, 2, "uid"));
  gid_t gid = static_cast<gid_t>(ArgInt32(info, 3, "gid"));
  int flags = ArgInt32(info, 4, "flags");
  return Result(info.Env(), fchownat(dirfd, name.c_str(), uid, gid, flags));
}

// utimensat(dirfd, name, asec, ansec, msec, mnsec, flags); UTIME_NOW and
// UTIME_OMIT go in the nsec fields.
Napi::Value UtimensAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgInt32(info, 0, "dirfd");
  std::string name = ArgName(info, 1, "name");
  struct timespec ts[2];
  ts[0].tv_sec = ArgI64(info, 2, "atime");
  ts[0].tv_nsec = ArgI64(info, 3, "atimensec");
  ts[1].tv_sec = ArgI64(info, 4, "mtime");
  ts[1].tv_nsec = ArgI64(info, 5, "mtimensec");
  int flags = ArgInt32(info, 6, "flags");
  return Result(info.Env(), utimensat(dirfd, name.empty() ? nullptr : name.c_str(), ts, flags));
}

Napi::Value Futimens(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  struct timespec ts[2];
  ts[0].tv_sec = ArgI64(info, 1, "atime");
  ts[0].tv_nsec = ArgI64(info, 2, "atimensec");
  ts[1].tv_sec = ArgI64(info, 3, "mtime");
  ts[1].tv_nsec = ArgI64(info, 4, "mtimensec");
  return Result(info.Env(), futimens(fd, ts));
}

// fstatfs(fd, out): out gets type, bsize, blocks, bfree, bavail, files,
// ffree, namelen, frsize, flags.
Napi::Value FstatfsAt(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  Napi::Float64Array out = ArgF64(info, 1, 10, "out");
  struct statfs s;
  if (Eintr([&] { return fstatfs(fd, &s); }) < 0) return Napi::Number::New(info.Env(), -errno);
  double* o = out.Data();
  o[0] = static_cast<double>(static_cast<uint32_t>(s.f_type));
  o[1] = static_cast<double>(s.f_bsize);
  o[2] = static_cast<double>(s.f_blocks);
  o[3] = static_cast<double>(s.f_bfree);
  o[4] = static_cast<double>(s.f_bavail);
  o[5] = static_cast<double>(s.f_files);
  o[6] = static_cast<double>(s.f_ffree);
  o[7] = static_cast<double>(s.f_namelen);
  o[8] = static_cast<double>(s.f_frsize);
  o[9] = static_cast<double>(s.f_flags);
  return Napi::Number::New(info.Env(), 0);
}

// pread(fd, buf, offset) -> bytes read into the whole of buf (one call).
Napi::Value Pread(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  Bytes b = ArgBytes(info, 1, "buffer");
  int64_t off = ArgI64(info, 2, "offset");
  return Result(info.Env(), Eintr([&] { return pread(fd, b.data, b.length, off); }));
}

// preadv(fd, [buffers], offset) -> bytes read into the buffers in order.
Napi::Value Preadv(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  if (info.Length() < 2 || !info[1].IsArray()) ThrowType(info.Env(), "buffers must be an array");
  Napi::Array arr = info[1].As<Napi::Array>();
  int64_t off = ArgI64(info, 2, "offset");
  uint32_t n = arr.Length();
  if (n > IOV_MAX) ThrowRange(info.Env(), "too many buffers");
  std::vector<struct iovec> iov(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsTypedArray()) ThrowType(info.Env(), "buffers must be Uint8Arrays");
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    iov[i].iov_base = static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
    iov[i].iov_len = t.ByteLength();
  }
  return Result(info.Env(), Eintr([&] { return preadv(fd, iov.data(), static_cast<int>(n), off); }));
}

Napi::Value Pwrite(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  Bytes b = ArgBytes(info, 1, "buffer");
  int64_t off = ArgI64(info, 2, "offset");
  return Result(info.Env(), Eintr([&] { return pwrite(fd, b.data, b.length, off); }));
}

Napi::Value Ftruncate(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int64_t len = ArgI64(info, 1, "length");
  return Result(info.Env(), Eintr([&] { return ftruncate(fd, len); }));
}

Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int mode = ArgInt32(info, 1, "mode");
  int64_t off = ArgI64(info, 2, "offset");
  int64_t len = ArgI64(info, 3, "length");
  return Result(info.Env(), Eintr([&] { return fallocate(fd, mode, off, len); }));
}

Napi::Value Lseek(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int64_t off = ArgI64(info, 1, "offset");
  int whence = ArgInt32(info, 2, "whence");
  return Result(info.Env(), lseek(fd, off, whence));
}

// getdents64(fd, buf) -> bytes of linux_dirent64 records in buf.
Napi::Value Getdents64(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  Bytes b = ArgBytes(info, 1, "buffer");
  return Result(info.Env(), syscall(SYS_getdents64, fd, b.data, b.length));
}

Napi::Value Fsync(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  bool datasync = info.Length() > 1 && info[1].ToBoolean().Value();
  return Result(info.Env(), Eintr([&] { return datasync ? fdatasync(fd) : fsync(fd); }));
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int r = close(fd);
  // Linux releases the descriptor even when close() reports EINTR.
  return Napi::Number::New(info.Env(), r < 0 && errno != EINTR ? -errno : 0);
}

Napi::Value DupFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  return Result(info.Env(), fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

Napi::Object FsAtConstants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
#define C(name) SetConst(c, #name, name)
  C(AT_FDCWD); C(AT_SYMLINK_NOFOLLOW); C(AT_REMOVEDIR); C(AT_SYMLINK_FOLLOW); C(AT_EMPTY_PATH);
  C(O_PATH); C(O_NOATIME); C(O_LARGEFILE); C(RENAME_NOREPLACE); C(RENAME_EXCHANGE); C(RENAME_WHITEOUT);
  C(UTIME_NOW); C(UTIME_OMIT); C(SEEK_SET); C(SEEK_CUR); C(SEEK_END); C(SEEK_DATA); C(SEEK_HOLE);
  C(S_IFMT); C(S_IFDIR); C(S_IFREG); C(S_IFLNK); C(S_IFCHR); C(S_IFBLK); C(S_IFIFO); C(S_IFSOCK);
  C(FALLOC_FL_KEEP_SIZE); C(FALLOC_FL_PUNCH_HOLE); C(PATH_MAX); C(NAME_MAX);
#undef C
  return c;
}

}  // namespace

void InitFsAt(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  auto fn = [&](const char* name, Napi::Function::Callback cb) {
    o.Set(name, Napi::Function::New(env, cb, name));
  };
  fn("openat", OpenAt);
  fn("fstatat", FstatAt);
  fn("mkdirat", MkdirAt);
  fn("mknodat", MknodAt);
  fn("unlinkat", UnlinkAt);
  fn("renameat2", Renameat2);
  fn("linkat", LinkAt);
  fn("symlinkat", SymlinkAt);
  fn("readlinkat", ReadlinkAt);
  fn("fchmodat", FchmodAt);
  fn("fchmod", Fchmod);
  fn("faccessat", FaccessAt);
  fn("fchownat", FchownAt);
  fn("utimensat", UtimensAt);
  fn("futimens", Futimens);
  fn("fstatfs", FstatfsAt);
  fn("pread", Pread);
  fn("pwrite", Pwrite);
  fn("preadv", Preadv);
  fn("ftruncate", Ftruncate);
  fn("fallocate", Fallocate);
  fn("lseek", Lseek);
  fn("getdents64", Getdents64);
  fn("fsync", Fsync);
  fn("close", CloseFd);
  fn("dup", DupFd);
  o.Set("constants", FsAtConstants(env));
  exports.Set("fsAt", o);
}

}  // namespace tsqom
