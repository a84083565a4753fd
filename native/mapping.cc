// mmap/munmap with detachable views, madvise, mbind, msync.
#include "mapping.h"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include <v8-typed-array.h>

#include "common.h"

namespace tsqom {

void Region::Unref() {
  if (--refs > 0) return;
  if (!unmapped) munmap(addr, length);
  delete this;
}

void Region::MaybeMunmap() {
  if (live || unmapped || preallocs > 0 || waiters > 0) return;
  // Cannot fail for a range we mapped ourselves; nothing useful to report.
  munmap(addr, length);
  unmapped = true;
}

Napi::Function Mapping::DefineClass(Napi::Env env) {
  return ObjectWrap<Mapping>::DefineClass(
      env, "Mapping",
      {
          InstanceMethod<&Mapping::Buffer>("buffer"),
          InstanceMethod<&Mapping::Unmap>("unmap"),
          InstanceMethod<&Mapping::Read>("read"),
          InstanceMethod<&Mapping::Write>("write"),
          InstanceAccessor<&Mapping::GetAddress>("address"),
          InstanceAccessor<&Mapping::GetLength>("length"),
          InstanceAccessor<&Mapping::GetProt>("prot"),
          InstanceAccessor<&Mapping::GetFlags>("flags"),
          InstanceAccessor<&Mapping::GetFd>("fd"),
          InstanceAccessor<&Mapping::GetOffset>("offset"),
          InstanceAccessor<&Mapping::GetIsMapped>("isMapped"),
          InstanceAccessor<&Mapping::GetViewCount>("viewCount"),
      });
}

Mapping* Mapping::From(Napi::Env env, Napi::Value v) {
  AddonData* data = GetData(env);
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(data->mappingClass.Value())) {
    ThrowType(env, "mapping must be a Mapping returned by mmap()");
  }
  return Mapping::Unwrap(v.As<Napi::Object>());
}

// Marks the External that mmap() hands to the constructor, so that no
// other External can be passed off as a Region.
static const napi_type_tag kRegionTag = {0x7473716f6d2d6d61ULL, 0x7070696e672d3031ULL};

Mapping::Mapping(const Napi::CallbackInfo& info) : ObjectWrap<Mapping>(info) {
  bool tagged = false;
  if (info.Length() >= 1 && info[0].IsExternal()) {
    napi_check_object_type_tag(info.Env(), info[0], &kRegionTag, &tagged);
  }
  if (!tagged) ThrowType(info.Env(), "Mapping objects come from mmap()");
  region_ = info[0].As<Napi::External<Region>>().Data();
}

Mapping::~Mapping() {
  // Garbage collection: the memory goes away once no view or job needs it.
  // Views cannot be detached from a finalizer, but they hold their own
  // references, so none of them can outlive the memory.
  views_.clear();
  if (region_) region_->Unref();
}

void Mapping::CheckLive(Napi::Env env, const char* syscall) const {
  if (!region_->live) ThrowErrno(env, EFAULT, syscall);
}

void Mapping::CheckRange(Napi::Env env, uint64_t offset, uint64_t len) const {
  if (offset > region_->length || len > region_->length - offset) {
    ThrowRange(env, "range [" + std::to_string(offset) + ", +" + std::to_string(len) + ") is outside the " +
                        std::to_string(region_->length) + "-byte mapping");
  }
}

void Mapping::PruneViews() {
  std::vector<Napi::Reference<Napi::ArrayBuffer>> kept;
  kept.reserve(views_.size());
  for (auto& r : views_) {
    Napi::ArrayBuffer ab = r.Value();
    if (!ab.IsEmpty() && !ab.IsDetached()) kept.push_back(std::move(r));
  }
  views_.swap(kept);
  pruneAt_ = std::max<size_t>(64, views_.size() * 2);
}

static void FinalizeView(napi_env, void*, void* hint) { static_cast<Region*>(hint)->Unref(); }

Napi::Value Mapping::Buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "mmap");
  // JavaScript cannot make an ArrayBuffer read-only, and a store into a
  // page without PROT_WRITE kills the process; such mappings are read and
  // written by copy (read()/write()) instead.
  if ((region_->prot & (PROT_READ | PROT_WRITE)) != (PROT_READ | PROT_WRITE)) ThrowErrno(env, EACCES, "mmap");
  uint64_t offset = ArgU64Or(info, 0, "offset", 0);
  if (offset > region_->length) CheckRange(env, offset, 0);
  uint64_t len = ArgU64Or(info, 1, "length", region_->length - offset);
  CheckRange(env, offset, len);
  // Node frees (finalizes) the memory of a buffer it refuses to create for
  // being too large, which would drop our reference twice: refuse first.
  if (len > v8::TypedArray::kMaxLength) {
    ThrowRange(env, "a view is limited to " + std::to_string(v8::TypedArray::kMaxLength) + " bytes");
  }
  if (views_.size() >= pruneAt_) PruneViews();
  napi_value out;
  region_->Ref();
  napi_status st = napi_create_external_arraybuffer(env, region_->addr + offset, len, FinalizeView, region_, &out);
  // On any other failure the reference is deliberately leaked rather than
  // risk dropping it twice: explicit unmap() does not depend on it.
  NAPI_THROW_IF_FAILED(env, st, Napi::Value());
  Napi::ArrayBuffer ab(env, out);
  views_.push_back(Napi::Reference<Napi::ArrayBuffer>::New(ab, 0));
  return ab;
}

Napi::Value Mapping::Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!region_->live) return Napi::Boolean::New(env, false);
  if (region_->preallocs > 0) ThrowErrno(env, EBUSY, "munmap");
  // Views first: after this no JavaScript code can reach the memory.
  for (auto& r : views_) {
    Napi::ArrayBuffer ab = r.Value();
    if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
  }
  views_.clear();
  pruneAt_ = 64;
  region_->live = false;
  if (region_->waiters > 0) {
    region_->cancelWaits.store(true);
    std::lock_guard<std::mutex> lock(region_->waitMutex);
    for (uint32_t* w : region_->waitAddrs) syscall(SYS_futex, w, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  }
  region_->MaybeMunmap();
  return Napi::Boolean::New(env, true);
}

Napi::Value Mapping::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "read");
  if (!(region_->prot & PROT_READ)) ThrowErrno(env, EACCES, "read");
  uint64_t offset = ArgU64(info, 0, "offset");
  uint64_t len = ArgU64(info, 1, "length");
  CheckRange(env, offset, len);
  return Napi::Buffer<uint8_t>::Copy(env, region_->addr + offset, len);
}

Napi::Value Mapping::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "write");
  if (!(region_->prot & PROT_WRITE)) ThrowErrno(env, EACCES, "write");
  uint64_t offset = ArgU64(info, 0, "offset");
  Bytes b = ArgBytes(info, 1, "data");
  CheckRange(env, offset, b.length);
  if (b.length) memmove(region_->addr + offset, b.data, b.length);
  return env.Undefined();
}

Napi::Value Mapping::GetAddress(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(region_->addr)));
}
Napi::Value Mapping::GetLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(region_->length));
}
Napi::Value Mapping::GetProt(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), region_->prot); }
Napi::Value Mapping::GetFlags(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), region_->flags);
}
Napi::Value Mapping::GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), region_->fd); }
Napi::Value Mapping::GetOffset(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(region_->fileOffset));
}
Napi::Value Mapping::GetIsMapped(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), region_->live);
}
Napi::Value Mapping::GetViewCount(const Napi::CallbackInfo& info) {
  PruneViews();
  return Napi::Number::New(info.Env(), static_cast<double>(views_.size()));
}

namespace {

Napi::Value WrapRegion(Napi::Env env, void* p, uint64_t length, int prot, int flags, int fd, uint64_t offset);

Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t length = ArgU64(info, 0, "length");
  int prot = ArgInt32(info, 1, "prot");
  int flags = ArgInt32(info, 2, "flags");
  int fd = ArgInt32Or(info, 3, "fd", -1);
  uint64_t offset = ArgU64Or(info, 4, "offset", 0);
  // A fixed address could replace memory other code (V8, another Mapping)
  // points into.
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) ThrowRange(env, "MAP_FIXED mappings are not supported");
  void* p = mmap(nullptr, length, prot, flags, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  return WrapRegion(env, p, length, prot, flags, fd, offset);
}

// mmapAligned(length, prot, flags, fd, offset, align): as mmap, at an
// address that is a multiple of `align` (a power of two, at least the page
// size). The kernel picks a range of length + align bytes, the mapping is
// placed inside it (MAP_FIXED over our own reservation only) and the rest
// is given back.
Napi::Value MmapAligned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t length = ArgU64(info, 0, "length");
  int prot = ArgInt32(info, 1, "prot");
  int flags = ArgInt32(info, 2, "flags");
  int fd = ArgInt32Or(info, 3, "fd", -1);
  uint64_t offset = ArgU64Or(info, 4, "offset", 0);
  uint64_t align = ArgU64(info, 5, "align");
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) ThrowRange(env, "MAP_FIXED mappings are not supported");
  uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (align < page || (align & (align - 1)) != 0) {
    ThrowRange(env, "align must be a power of two no smaller than the page size");
  }
  if (length > UINT64_MAX - align) ThrowErrno(env, ENOMEM, "mmap");
  uint64_t total = length + align;
  void* g = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (g == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  uintptr_t base = reinterpret_cast<uintptr_t>(g);
  uintptr_t at = (base + align - 1) & ~static_cast<uintptr_t>(align - 1);
  void* p = mmap(reinterpret_cast<void*>(at), length, prot, flags | MAP_FIXED, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) {
    int err = errno;
    munmap(g, total);
    ThrowErrno(env, err, "mmap");
  }
  if (at > base) munmap(g, at - base);
  uintptr_t end = at + length;
  uintptr_t rend = base + total;
  // The mapping's length may not be a multiple of the page size; what the
  // kernel rounded it up to stays part of it.
  uintptr_t mapped = (end + page - 1) & ~static_cast<uintptr_t>(page - 1);
  if (rend > mapped) munmap(reinterpret_cast<void*>(mapped), rend - mapped);
  return WrapRegion(env, p, length, prot, flags, fd, offset);
}

Napi::Value WrapRegion(Napi::Env env, void* p, uint64_t length, int prot, int flags, int fd, uint64_t offset) {
  Region* r = new Region();
  r->addr = static_cast<uint8_t*>(p);
  r->length = length;
  r->prot = prot;
  r->flags = flags;
  r->fd = (flags & MAP_ANONYMOUS) ? -1 : fd;
  r->fileOffset = offset;
  Napi::Object m;
  try {
    Napi::External<Region> ext = Napi::External<Region>::New(env, r);
    NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, ext, &kRegionTag), Napi::Value());
    m = GetData(env)->mappingClass.New({ext});
  } catch (...) {
    r->Unref();
    throw;
  }
  return m;
}

// mlockall(2): locks the whole process, now and/or from now on.
Napi::Value Mlockall(const Napi::CallbackInfo& info) {
  int flags = ArgInt32(info, 0, "flags");
  if (mlockall(flags) < 0) ThrowErrno(info.Env(), errno, "mlockall");
  return info.Env().Undefined();
}

Napi::Value Madvise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = Mapping::From(env, info[0]);
  m->CheckLive(env, "madvise");
  uint64_t offset = ArgU64(info, 1, "offset");
  uint64_t len = ArgU64(info, 2, "length");
  int advice = ArgInt32(info, 3, "advice");
  m->CheckRange(env, offset, len);
  Region* r = m->region();
  int rc;
  do {
    rc = madvise(r->addr + offset, len, advice);
  } while (rc < 0 && (errno == EINTR || errno == EAGAIN) && (advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE));
  if (rc < 0) ThrowErrno(env, errno, "madvise");
  return env.Undefined();
}

Napi::Value MadvisePopulateWriteSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = Mapping::From(env, info[0]);
  m->CheckLive(env, "madvise");
  Region* r = m->region();
  uint64_t offset = ArgU64Or(info, 1, "offset", 0);
  if (offset > r->length) m->CheckRange(env, offset, 0);
  uint64_t len = ArgU64Or(info, 2, "length", r->length - offset);
  m->CheckRange(env, offset, len);
  int rc;
  do {
    rc = madvise(r->addr + offset, len, MADV_POPULATE_WRITE);
  } while (rc < 0 && (errno == EINTR || errno == EAGAIN));
  if (rc < 0) ThrowErrno(env, errno, "madvise");
  return env.Undefined();
}

Napi::Value Msync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = Mapping::From(env, info[0]);
  m->CheckLive(env, "msync");
  uint64_t offset = ArgU64(info, 1, "offset");
  uint64_t len = ArgU64(info, 2, "length");
  int flags = ArgInt32(info, 3, "flags");
  m->CheckRange(env, offset, len);
  if (msync(m->region()->addr + offset, len, flags) < 0) ThrowErrno(env, errno, "msync");
  return env.Undefined();
}

// Node numbers -> a kernel nodemask of at least `bits` bits.
std::vector<unsigned long> NodeMask(const Napi::CallbackInfo& info, size_t i, uint64_t& maxnode) {
  Napi::Env env = info.Env();
  std::vector<unsigned long> mask;
  if (IsMissing(info, i)) return mask;
  if (!info[i].IsArray()) ThrowType(env, "nodes must be an array of node numbers");
  Napi::Array a = info[i].As<Napi::Array>();
  const uint64_t wordBits = sizeof(unsigned long) * CHAR_BIT;
  uint64_t bits = maxnode;
  std::vector<uint32_t> nodes;
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (!v.IsNumber()) ThrowType(env, "nodes must be an array of node numbers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (d < 0 || d != static_cast<uint32_t>(d) || d > 65535) ThrowRange(env, "node numbers must be in 0..65535");
    nodes.push_back(static_cast<uint32_t>(d));
    if (d + 1 > bits) bits = static_cast<uint64_t>(d) + 1;
  }
  // No nodes: a null mask, as the kernel expects for MPOL_DEFAULT/MPOL_LOCAL.
  if (nodes.empty()) return mask;
  mask.assign((bits + wordBits - 1) / wordBits + 1, 0);
  for (uint32_t n : nodes) mask[n / wordBits] |= 1UL << (n % wordBits);
  return mask;
}

Napi::Value Mbind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = Mapping::From(env, info[0]);
  m->CheckLive(env, "mbind");
  int mode = ArgInt32(info, 1, "mode");
  uint64_t maxnode = ArgU64Or(info, 3, "maxnode", 0);
  std::vector<unsigned long> mask = NodeMask(info, 2, maxnode);
  unsigned flags = ArgUint32(info, 4, "flags");
  Region* r = m->region();
  uint64_t offset = ArgU64Or(info, 5, "offset", 0);
  if (offset > r->length) m->CheckRange(env, offset, 0);
  uint64_t len = ArgU64Or(info, 6, "length", r->length - offset);
  m->CheckRange(env, offset, len);
  long rc = syscall(SYS_mbind, r->addr + offset, len, mode, mask.empty() ? nullptr : mask.data(), maxnode, flags);
  if (rc < 0) ThrowErrno(env, errno, "mbind");
  return env.Undefined();
}

Napi::Value GetMempolicy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = Mapping::From(env, info[0]);
  m->CheckLive(env, "get_mempolicy");
  uint64_t offset = ArgU64Or(info, 1, "offset", 0);
  m->CheckRange(env, offset, 1);
  const unsigned long maxnode = 1024;
  std::vector<unsigned long> mask(maxnode / (sizeof(unsigned long) * CHAR_BIT), 0);
  int mode = 0;
  const int MPOL_F_ADDR_ = 1 << 1;
  long rc = syscall(SYS_get_mempolicy, &mode, mask.data(), maxnode, m->region()->addr + offset, MPOL_F_ADDR_);
  if (rc < 0) ThrowErrno(env, errno, "get_mempolicy");
  Napi::Array nodes = Napi::Array::New(env);
  uint32_t k = 0;
  for (unsigned long n = 0; n < maxnode; n++) {
    if (mask[n / (sizeof(unsigned long) * CHAR_BIT)] & (1UL << (n % (sizeof(unsigned long) * CHAR_BIT)))) {
      nodes.Set(k++, Napi::Number::New(env, static_cast<double>(n)));
    }
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("mode", Napi::Number::New(env, mode));
  o.Set("nodes", nodes);
  return o;
}

}  // namespace

void InitMapping(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = Mapping::DefineClass(env);
  GetData(env)->mappingClass = Napi::Persistent(cls);
  exports.Set("Mapping", cls);
  auto fn = [&](const char* name, Napi::Function::Callback cb) {
    exports.Set(name, Napi::Function::New(env, cb, name));
  };
  fn("mmap", Mmap);
  fn("mmapAligned", MmapAligned);
  fn("madvise", Madvise);
  fn("mlockall", Mlockall);
  fn("madvisePopulateWriteSync", MadvisePopulateWriteSync);
  fn("msync", Msync);
  fn("mbind", Mbind);
  fn("getMempolicy", GetMempolicy);
}

}  // namespace tsqom
