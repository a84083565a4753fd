// Shared helpers for tsqom's native layer: errno errors and argument parsing.
// The native layer decides nothing; it calls the OS and reports what the OS
// said, so every failure carries the errno the kernel returned.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace tsqom {

// Per-environment state (one per Node.js main thread or worker thread).
struct AddonData {
  Napi::FunctionReference errorClass;  // set from TypeScript: OsError
  Napi::FunctionReference mappingClass;
  Napi::FunctionReference fdWatcherClass;
};

AddonData* GetData(Napi::Env env);

// English (C locale) text for an errno, as glibc words it.
std::string ErrnoMessage(int err);
// Symbolic name for an errno ("ENOENT"), or "E<number>" when unknown.
std::string ErrnoName(int err);

// Builds the error object thrown for a failed system call: an instance of
// the registered error class when TypeScript gave one, else a plain Error;
// either way it carries errno, code and syscall.
Napi::Object MakeErrnoError(Napi::Env env, int err, const char* syscall);

// Throws MakeErrnoError as a C++ exception that node-addon-api turns into
// a JavaScript exception.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall);
[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& message);

// Argument helpers. They throw TypeError/RangeError for values the caller
// got wrong (programming errors), never an errno.
int32_t ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* name);
int32_t ArgInt32Or(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t dflt);
uint32_t ArgUint32(const Napi::CallbackInfo& info, size_t i, const char* name);
// A non-negative integer given as a number (up to 2^53) or a bigint.
uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name);
uint64_t ArgU64Or(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t dflt);
// Any 64-bit value given as a bigint (or a safe integer number).
uint64_t ArgBits64(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
// Bytes of a Uint8Array/Buffer/other TypedArray/DataView/ArrayBuffer.
struct Bytes {
  uint8_t* data;
  size_t length;
};
Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name);

inline bool IsMissing(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() <= i || info[i].IsUndefined() || info[i].IsNull();
}

// Registration helpers, one per source file.
void InitFs(Napi::Env env, Napi::Object exports);
void InitMapping(Napi::Env env, Napi::Object exports);
void InitPrealloc(Napi::Env env, Napi::Object exports);
void InitAtomics(Napi::Env env, Napi::Object exports);
void InitNet(Napi::Env env, Napi::Object exports);
void InitFdWatcher(Napi::Env env, Napi::Object exports);
void InitGuarded(Napi::Env env, Napi::Object exports);
void InitFsAt(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
void InitThread(Napi::Env env, Napi::Object exports);

// Adds a constant to an object.
inline void SetConst(Napi::Object o, const char* name, double value) {
  o.Set(name, Napi::Number::New(o.Env(), value));
}

}  // namespace tsqom
