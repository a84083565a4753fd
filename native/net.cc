// eventfd, unix domain sockets with descriptor passing (SCM_RIGHTS), and
// the inet (TCP) pieces: name resolution off the main thread, bind and
// connect to a resolved address, the numeric form of an address.
#include <netdb.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common.h"

namespace tsqom {
namespace {

// The most descriptors Linux passes in one message (SCM_MAX_FD).
constexpr size_t kMaxFds = 253;

template <typename F>
auto RetryEintr(F f) -> decltype(f()) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

Napi::Value Eventfd(const Napi::CallbackInfo& info) {
  unsigned initval = ArgUint32(info, 0, "initval");
  int flags = ArgInt32(info, 1, "flags");
  int fd = eventfd(initval, flags);
  if (fd < 0) ThrowErrno(info.Env(), errno, "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value EventfdRead(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  uint64_t v = 0;
  ssize_t n = RetryEintr([&] { return read(fd, &v, sizeof v); });
  if (n < 0) {
    if (errno == EAGAIN) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "read");
  }
  if (n != sizeof v) ThrowErrno(info.Env(), EIO, "read");
  return Napi::BigInt::New(info.Env(), v);
}

Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  uint64_t v = ArgBits64(info, 1, "value");
  ssize_t n = RetryEintr([&] { return write(fd, &v, sizeof v); });
  if (n < 0) {
    if (errno == EAGAIN) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), errno, "write");
  }
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value Socket(const Napi::CallbackInfo& info) {
  int fd = socket(ArgInt32(info, 0, "domain"), ArgInt32(info, 1, "type"), ArgInt32Or(info, 2, "protocol", 0));
  if (fd < 0) ThrowErrno(info.Env(), errno, "socket");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  int sv[2];
  if (socketpair(ArgInt32(info, 0, "domain"), ArgInt32(info, 1, "type"), ArgInt32Or(info, 2, "protocol", 0), sv) < 0) {
    ThrowErrno(info.Env(), errno, "socketpair");
  }
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, Napi::Number::New(info.Env(), sv[0]));
  a.Set(1u, Napi::Number::New(info.Env(), sv[1]));
  return a;
}

socklen_t UnixAddress(const Napi::CallbackInfo& info, size_t i, sockaddr_un& sa, const char* syscall) {
  std::string path = ArgString(info, i, "path");
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) ThrowErrno(info.Env(), ENAMETOOLONG, syscall);
  memcpy(sa.sun_path, path.data(), path.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  sockaddr_un sa;
  socklen_t len = UnixAddress(info, 1, sa, "bind");
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), len) < 0) ThrowErrno(info.Env(), errno, "bind");
  return info.Env().Undefined();
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  if (listen(ArgInt32(info, 0, "fd"), ArgInt32(info, 1, "backlog")) < 0) ThrowErrno(info.Env(), errno, "listen");
  return info.Env().Undefined();
}

Napi::Value Accept4(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int flags = ArgInt32(info, 1, "flags");
  int r = RetryEintr([&] { return accept4(fd, nullptr, nullptr, flags); });
  if (r < 0) {
    if (errno == EAGAIN) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "accept4");
  }
  return Napi::Number::New(info.Env(), r);
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  sockaddr_un sa;
  socklen_t len = UnixAddress(info, 1, sa, "connect");
  // Not retried on EINTR: the connection then completes asynchronously,
  // which the caller learns about like EINPROGRESS.
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), len) < 0) ThrowErrno(info.Env(), errno, "connect");
  return info.Env().Undefined();
}

Napi::Value Sendmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  Bytes data = ArgBytes(info, 1, "data");
  std::vector<int> fds;
  if (!IsMissing(info, 2)) {
    if (!info[2].IsArray()) ThrowType(env, "fds must be an array of descriptors");
    Napi::Array a = info[2].As<Napi::Array>();
    for (uint32_t k = 0; k < a.Length(); k++) {
      Napi::Value v = a.Get(k);
      if (!v.IsNumber()) ThrowType(env, "fds must be an array of descriptors");
      fds.push_back(v.As<Napi::Number>().Int32Value());
    }
  }
  if (fds.size() > kMaxFds) ThrowErrno(env, EINVAL, "sendmsg");
  iovec iov = {data.data, data.length};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(fds.size() * sizeof(int)), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  ssize_t n = RetryEintr([&] { return sendmsg(fd, &msg, MSG_NOSIGNAL); });
  if (n < 0) ThrowErrno(env, errno, "sendmsg");
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value Recvmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  uint32_t maxBytes = ArgUint32(info, 1, "maxBytes");
  uint32_t maxFds = ArgUint32(info, 2, "maxFds");
  std::vector<uint8_t> buf(maxBytes ? maxBytes : 1);
  iovec iov = {buf.data(), maxBytes};
  // Room for every descriptor the kernel may send, so none is dropped
  // silently: the ones beyond maxFds are closed and reported.
  std::vector<char> control(CMSG_SPACE(kMaxFds * sizeof(int)), 0);
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n = RetryEintr([&] { return recvmsg(fd, &msg, MSG_CMSG_CLOEXEC); });
  if (n < 0) {
    if (errno == EAGAIN) return env.Null();
    ThrowErrno(env, errno, "recvmsg");
  }
  bool truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  Napi::Array fds = Napi::Array::New(env);
  uint32_t kept = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t k = 0; k < count; k++) {
      int rfd;
      memcpy(&rfd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
      if (kept < maxFds) {
        fds.Set(kept++, Napi::Number::New(env, rfd));
      } else {
        close(rfd);
        truncated = true;
      }
    }
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", Napi::Buffer<uint8_t>::Copy(env, buf.data(), static_cast<size_t>(n)));
  o.Set("fds", fds);
  o.Set("truncatedFds", Napi::Boolean::New(env, truncated));
  return o;
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  if (shutdown(ArgInt32(info, 0, "fd"), ArgInt32(info, 1, "how")) < 0) ThrowErrno(info.Env(), errno, "shutdown");
  return info.Env().Undefined();
}

Napi::Value GetsockoptInt(const Napi::CallbackInfo& info) {
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(ArgInt32(info, 0, "fd"), ArgInt32(info, 1, "level"), ArgInt32(info, 2, "name"), &v, &len) < 0) {
    ThrowErrno(info.Env(), errno, "getsockopt");
  }
  return Napi::Number::New(info.Env(), v);
}

Napi::Value SetsockoptInt(const Napi::CallbackInfo& info) {
  int v = ArgInt32(info, 3, "value");
  if (setsockopt(ArgInt32(info, 0, "fd"), ArgInt32(info, 1, "level"), ArgInt32(info, 2, "name"), &v, sizeof v) < 0) {
    ThrowErrno(info.Env(), errno, "setsockopt");
  }
  return info.Env().Undefined();
}

Napi::Value UnixName(const Napi::CallbackInfo& info, bool peer) {
  sockaddr_un sa = {};
  socklen_t len = sizeof sa;
  int fd = ArgInt32(info, 0, "fd");
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  if (rc < 0) ThrowErrno(info.Env(), errno, peer ? "getpeername" : "getsockname");
  if (sa.sun_family != AF_UNIX || len <= offsetof(sockaddr_un, sun_path)) return Napi::String::New(info.Env(), "");
  size_t n = len - offsetof(sockaddr_un, sun_path);
  return Napi::String::New(info.Env(), std::string(sa.sun_path, strnlen(sa.sun_path, n)));
}

Napi::Value Getsockname(const Napi::CallbackInfo& info) { return UnixName(info, false); }
Napi::Value Getpeername(const Napi::CallbackInfo& info) { return UnixName(info, true); }

Napi::Value GetPeerCred(const Napi::CallbackInfo& info) {
  ucred cred = {};
  socklen_t len = sizeof cred;
  if (getsockopt(ArgInt32(info, 0, "fd"), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    ThrowErrno(info.Env(), errno, "getsockopt");
  }
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("pid", Napi::Number::New(info.Env(), cred.pid));
  o.Set("uid", Napi::Number::New(info.Env(), cred.uid));
  o.Set("gid", Napi::Number::New(info.Env(), cred.gid));
  return o;
}

// A socket address handed to JavaScript as the raw sockaddr bytes, so the
// caller can bind or connect to exactly what getaddrinfo returned.
Napi::Value SockaddrBuffer(Napi::Env env, const sockaddr* sa, socklen_t len) {
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(sa), len);
}

// getaddrinfo(3) blocks on DNS: it runs on the thread pool and settles a
// promise with [{ family, addr }] or rejects with gai_strerror's text.
class GetaddrinfoWorker : public Napi::AsyncWorker {
 public:
  GetaddrinfoWorker(Napi::Env env, bool hasHost, std::string host, bool hasService, std::string service,
                    addrinfo hints)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        hasHost_(hasHost),
        host_(std::move(host)),
        hasService_(hasService),
        service_(std::move(service)),
        hints_(hints) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    addrinfo* res = nullptr;
    rc_ = getaddrinfo(hasHost_ ? host_.c_str() : nullptr, hasService_ ? service_.c_str() : nullptr, &hints_, &res);
    if (rc_ != 0) return;
    for (addrinfo* e = res; e != nullptr; e = e->ai_next) {
      results_.push_back({e->ai_family, std::string(reinterpret_cast<const char*>(e->ai_addr), e->ai_addrlen)});
    }
    freeaddrinfo(res);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (rc_ != 0) {
      Napi::Error err = Napi::Error::New(env, gai_strerror(rc_));
      err.Set("gaiCode", Napi::Number::New(env, rc_));
      deferred_.Reject(err.Value());
      return;
    }
    Napi::Array out = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("family", Napi::Number::New(env, results_[i].first));
      const std::string& a = results_[i].second;
      o.Set("addr", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(a.data()), a.size()));
      out.Set(static_cast<uint32_t>(i), o);
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  bool hasHost_;
  std::string host_;
  bool hasService_;
  std::string service_;
  addrinfo hints_;
  int rc_ = 0;
  std::vector<std::pair<int, std::string>> results_;
};

// getaddrinfo(host|null, service|null, flags, family, socktype)
Napi::Value Getaddrinfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool hasHost = !IsMissing(info, 0);
  bool hasService = !IsMissing(info, 1);
  addrinfo hints = {};
  hints.ai_flags = ArgInt32(info, 2, "flags");
  hints.ai_family = ArgInt32(info, 3, "family");
  hints.ai_socktype = ArgInt32(info, 4, "socktype");
  auto* w = new GetaddrinfoWorker(env, hasHost, hasHost ? ArgString(info, 0, "host") : std::string(), hasService,
                                  hasService ? ArgString(info, 1, "service") : std::string(), hints);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

socklen_t ArgSockaddr(const Napi::CallbackInfo& info, size_t i, sockaddr_storage& ss) {
  Bytes b = ArgBytes(info, i, "addr");
  if (b.length < sizeof(sa_family_t) || b.length > sizeof ss) ThrowRange(info.Env(), "addr is not a socket address");
  memset(&ss, 0, sizeof ss);
  memcpy(&ss, b.data, b.length);
  return static_cast<socklen_t>(b.length);
}

Napi::Value BindAddr(const Napi::CallbackInfo& info) {
  sockaddr_storage ss;
  socklen_t len = ArgSockaddr(info, 1, ss);
  if (bind(ArgInt32(info, 0, "fd"), reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    ThrowErrno(info.Env(), errno, "bind");
  }
  return info.Env().Undefined();
}

Napi::Value ConnectAddr(const Napi::CallbackInfo& info) {
  sockaddr_storage ss;
  socklen_t len = ArgSockaddr(info, 1, ss);
  int fd = ArgInt32(info, 0, "fd");
  if (RetryEintr([&] { return connect(fd, reinterpret_cast<sockaddr*>(&ss), len); }) < 0) {
    ThrowErrno(info.Env(), errno, "connect");
  }
  return info.Env().Undefined();
}

// The raw local (or, with peer=true, remote) address of a socket.
Napi::Value GetsockAddr(const Napi::CallbackInfo& info) {
  sockaddr_storage ss = {};
  socklen_t len = sizeof ss;
  int fd = ArgInt32(info, 0, "fd");
  bool peer = !IsMissing(info, 1) && info[1].ToBoolean().Value();
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc < 0) ThrowErrno(info.Env(), errno, peer ? "getpeername" : "getsockname");
  return SockaddrBuffer(info.Env(), reinterpret_cast<sockaddr*>(&ss), len);
}

// getnameinfo(3) with NI_NUMERICHOST | NI_NUMERICSERV: { host, service }.
Napi::Value Nameinfo(const Napi::CallbackInfo& info) {
  sockaddr_storage ss;
  socklen_t len = ArgSockaddr(info, 0, ss);
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  int rc = getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, serv, sizeof serv,
                       NI_NUMERICHOST | NI_NUMERICSERV);
  if (rc != 0) throw Napi::Error::New(info.Env(), gai_strerror(rc));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("host", Napi::String::New(info.Env(), host));
  o.Set("service", Napi::String::New(info.Env(), serv));
  return o;
}

// pidfd_open(2) (Linux 5.3+), through syscall(2): older C libraries lack a
// wrapper. The descriptor polls readable once the process has exited.
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
#ifdef SYS_pidfd_open
  int pid = ArgInt32(info, 0, "pid");
  // pidfds are always close-on-exec.
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) ThrowErrno(info.Env(), errno, "pidfd_open");
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
#else
  ThrowErrno(info.Env(), ENOSYS, "pidfd_open");
#endif
}

}  // namespace

void InitNet(Napi::Env env, Napi::Object exports) {
  auto fn = [&](const char* name, Napi::Function::Callback cb) {
    exports.Set(name, Napi::Function::New(env, cb, name));
  };
  fn("eventfd", Eventfd);
  fn("eventfdRead", EventfdRead);
  fn("eventfdWrite", EventfdWrite);
  fn("socket", Socket);
  fn("socketpair", Socketpair);
  fn("bind", Bind);
  fn("listen", Listen);
  fn("accept4", Accept4);
  fn("connect", Connect);
  fn("sendmsg", Sendmsg);
  fn("recvmsg", Recvmsg);
  fn("shutdown", Shutdown);
  fn("getsockoptInt", GetsockoptInt);
  fn("setsockoptInt", SetsockoptInt);
  fn("getsockname", Getsockname);
  fn("getpeername", Getpeername);
  fn("getPeerCred", GetPeerCred);
  fn("getaddrinfo", Getaddrinfo);
  fn("bindAddr", BindAddr);
  fn("connectAddr", ConnectAddr);
  fn("getsockAddr", GetsockAddr);
  fn("nameinfo", Nameinfo);
  fn("pidfdOpen", PidfdOpen);
}

}  // namespace tsqom
