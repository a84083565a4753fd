// Errno errors and argument parsing shared by every native source file.
#include "common.h"

#include <locale.h>
#include <string.h>

#include <cerrno>
#include <cmath>

namespace tsqom {

AddonData* GetData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

std::string ErrnoMessage(int err) {
  // QEMU's users read English glibc texts; a process-wide setlocale() by an
  // embedder must not change them.
  static locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(0));
  const char* s = c_locale ? strerror_l(err, c_locale) : strerror(err);
  return s ? std::string(s) : "Unknown error " + std::to_string(err);
}

std::string ErrnoName(int err) {
  const char* n = strerrorname_np(err);
  return n ? std::string(n) : "E" + std::to_string(err);
}

Napi::Object MakeErrnoError(Napi::Env env, int err, const char* syscall) {
  AddonData* data = GetData(env);
  std::string code = ErrnoName(err);
  if (data && !data->errorClass.IsEmpty()) {
    Napi::Value v = data->errorClass.New({Napi::Number::New(env, err), Napi::String::New(env, syscall),
                                          Napi::String::New(env, code)});
    if (v.IsObject()) return v.As<Napi::Object>();
  }
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + ErrnoMessage(err) + " (" + code + ")");
  Napi::Object o = e.Value();
  o.Set("errno", Napi::Number::New(env, err));
  o.Set("code", Napi::String::New(env, code));
  o.Set("syscall", Napi::String::New(env, syscall));
  return o;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall) {
  throw Napi::Error(env, MakeErrnoError(env, err, syscall));
}

void ThrowType(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

void ThrowRange(Napi::Env env, const std::string& message) { throw Napi::RangeError::New(env, message); }

static Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i ? info[i] : info.Env().Undefined();
}

int32_t ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (!v.IsNumber()) ThrowType(info.Env(), std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::trunc(d) || d < -2147483648.0 || d > 4294967295.0) {
    ThrowRange(info.Env(), std::string(name) + " must be a 32-bit integer");
  }
  // Values in [2^31, 2^32) are accepted as flag words and wrap.
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<int64_t>(d)));
}

int32_t ArgInt32Or(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t dflt) {
  return IsMissing(info, i) ? dflt : ArgInt32(info, i, name);
}

uint32_t ArgUint32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (!v.IsNumber()) ThrowType(info.Env(), std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::trunc(d) || d < -2147483648.0 || d > 4294967295.0) {
    ThrowRange(info.Env(), std::string(name) + " must be a 32-bit integer");
  }
  return static_cast<uint32_t>(static_cast<int64_t>(d));
}

uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (v.IsBigInt()) {
    bool lossless = true;
    Napi::BigInt b = v.As<Napi::BigInt>();
    int64_t s = b.Int64Value(&lossless);
    if (lossless && s < 0) ThrowRange(info.Env(), std::string(name) + " must not be negative");
    uint64_t u = b.Uint64Value(&lossless);
    if (!lossless) ThrowRange(info.Env(), std::string(name) + " does not fit in 64 bits");
    return u;
  }
  if (!v.IsNumber()) ThrowType(info.Env(), std::string(name) + " must be a number or a bigint");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::trunc(d) || d < 0 || d > 9007199254740991.0) {
    ThrowRange(info.Env(), std::string(name) + " must be a non-negative safe integer");
  }
  return static_cast<uint64_t>(d);
}

uint64_t ArgU64Or(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t dflt) {
  return IsMissing(info, i) ? dflt : ArgU64(info, i, name);
}

uint64_t ArgBits64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (v.IsBigInt()) {
    bool lossless = true;
    Napi::BigInt b = v.As<Napi::BigInt>();
    int64_t s = b.Int64Value(&lossless);
    if (lossless) return static_cast<uint64_t>(s);
    uint64_t u = b.Uint64Value(&lossless);
    if (!lossless) ThrowRange(info.Env(), std::string(name) + " does not fit in 64 bits");
    return u;
  }
  if (!v.IsNumber()) ThrowType(info.Env(), std::string(name) + " must be a bigint or a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::trunc(d) || std::fabs(d) > 9007199254740991.0) {
    ThrowRange(info.Env(), std::string(name) + " must be a safe integer");
  }
  return static_cast<uint64_t>(static_cast<int64_t>(d));
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (!v.IsString()) ThrowType(info.Env(), std::string(name) + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) ThrowType(info.Env(), std::string(name) + " must not contain NUL");
  return s;
}

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (v.IsTypedArray()) {
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    Napi::ArrayBuffer ab = t.ArrayBuffer();
    return {static_cast<uint8_t*>(ab.Data()) + t.ByteOffset(), t.ByteLength()};
  }
  if (v.IsDataView()) {
    Napi::DataView d = v.As<Napi::DataView>();
    return {static_cast<uint8_t*>(d.Data()), d.ByteLength()};
  }
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
    return {static_cast<uint8_t*>(ab.Data()), ab.ByteLength()};
  }
  ThrowType(info.Env(), std::string(name) + " must be a Uint8Array, Buffer or ArrayBuffer");
}

}  // namespace tsqom
