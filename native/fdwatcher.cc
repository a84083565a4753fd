// FdWatcher: readiness of a descriptor, reported on the event loop
// (libuv's uv_poll_t), so TypeScript can read sockets and eventfds without
// blocking and without a thread per descriptor.
//
// The uv_poll_t lives on the heap and is freed by its close callback, never
// by the JS object's destructor, because libuv needs the memory until that
// callback ran. While started, the watcher holds a strong reference to its
// own JS object, so an active watcher is not collected. close() may be
// called from inside the callback: the handle is only freed later by libuv.
#include <uv.h>

#include <memory>

#include "common.h"

namespace tsqom {
namespace {

class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::Function DefineClass(Napi::Env env) {
    return ObjectWrap<FdWatcher>::DefineClass(env, "FdWatcher",
                                              {
                                                  InstanceMethod<&FdWatcher::Start>("start"),
                                                  InstanceMethod<&FdWatcher::Stop>("stop"),
                                                  InstanceMethod<&FdWatcher::Close>("close"),
                                                  InstanceAccessor<&FdWatcher::GetFd>("fd"),
                                                  InstanceAccessor<&FdWatcher::GetActive>("active"),
                                                  InstanceAccessor<&FdWatcher::GetClosed>("closed"),
                                              });
  }

  explicit FdWatcher(const Napi::CallbackInfo& info) : ObjectWrap<FdWatcher>(info) {
    Napi::Env env = info.Env();
    fd_ = ArgInt32(info, 0, "fd");
    events_ = ArgInt32(info, 1, "events");
    if (info.Length() < 3 || !info[2].IsFunction()) ThrowType(env, "callback must be a function");
    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
    ctx_ = std::make_unique<Napi::AsyncContext>(env, "tsqom.FdWatcher", info.This().As<Napi::Object>());
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) ThrowErrno(env, EINVAL, "uv_poll_init");
    auto* h = new uv_poll_t();
    int rc = uv_poll_init(loop, h, fd_);
    if (rc < 0) {
      delete h;
      ThrowErrno(env, -rc, "uv_poll_init");
    }
    h->data = this;
    handle_ = h;
  }

  ~FdWatcher() override { Release(); }

 private:
  static void OnClosed(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

  void Release() {
    if (!handle_) return;
    handle_->data = nullptr;
    // A worker thread's teardown may have closed every handle already; the
    // memory then stays with libuv rather than risk a double close.
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(handle_))) {
      uv_close(reinterpret_cast<uv_handle_t*>(handle_), OnClosed);
    }
    handle_ = nullptr;
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    auto* self = static_cast<FdWatcher*>(h->data);
    if (!self || !self->active_) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    Napi::Object me = self->Value();  // keeps the object alive during the call
    Napi::Value err = status < 0 ? Napi::Value(MakeErrnoError(env, -status, "uv_poll")) : env.Null();
    try {
      self->callback_.MakeCallback(me, {err, Napi::Number::New(env, events)}, *self->ctx_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!handle_) ThrowErrno(env, EBADF, "uv_poll_start");
    if (!IsMissing(info, 0)) events_ = ArgInt32(info, 0, "events");
    int rc = uv_poll_start(handle_, events_, OnPoll);
    if (rc < 0) ThrowErrno(env, -rc, "uv_poll_start");
    if (!active_) {
      self_ = Napi::Persistent(Value());
      active_ = true;
    }
    return env.Undefined();
  }

  void DoStop() {
    if (handle_) uv_poll_stop(handle_);
    if (active_) {
      active_ = false;
      self_.Reset();
    }
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    DoStop();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    DoStop();
    Release();
    return info.Env().Undefined();
  }

  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value GetActive(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), active_); }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), handle_ == nullptr); }

  uv_poll_t* handle_ = nullptr;
  int fd_ = -1;
  int events_ = 0;
  bool active_ = false;
  Napi::FunctionReference callback_;
  Napi::ObjectReference self_;
  std::unique_ptr<Napi::AsyncContext> ctx_;
};

}  // namespace

void InitFdWatcher(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = FdWatcher::DefineClass(env);
  GetData(env)->fdWatcherClass = Napi::Persistent(cls);
  exports.Set("FdWatcher", cls);
}

}  // namespace tsqom
