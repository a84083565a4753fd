/**
 * Linux constants used with `HostOs`. Values are the kernel's ABI (x86-64 and
 * arm64; the few open(2) flags that differ are picked by `process.arch`). A test
 * compares them with the values the addon was compiled with.
 * @module
 */
const arm64 = process.arch === 'arm64';

// open(2) flags
/** Open for reading only. */
export const O_RDONLY = 0;
/** Open for writing only. */
export const O_WRONLY = 1;
/** Open for reading and writing. */
export const O_RDWR = 2;
/** Create the file if it does not exist. */
export const O_CREAT = 64;
/** With O_CREAT: fail with EEXIST if the name exists. */
export const O_EXCL = 128;
/** Do not make a terminal the controlling terminal. */
export const O_NOCTTY = 0x100;
/** Truncate to length 0. */
export const O_TRUNC = 0x200;
/** Append on each write. */
export const O_APPEND = 0x400;
/** Nonblocking I/O. */
export const O_NONBLOCK = 0x800;
/** Synchronised data writes. */
export const O_DSYNC = 0x1000;
/** Synchronised file writes. */
export const O_SYNC = 0x101000;
/** Close on exec. */
export const O_CLOEXEC = 0x80000;
/** Direct I/O, bypassing the page cache (value differs on arm64). */
export const O_DIRECT: number = arm64 ? 0x10000 : 0x4000;
/** Fail unless the path is a directory (value differs on arm64). */
export const O_DIRECTORY: number = arm64 ? 0x4000 : 0x10000;
/** Do not follow a final symbolic link (value differs on arm64). */
export const O_NOFOLLOW: number = arm64 ? 0x8000 : 0x20000;
/** Create an unnamed temporary file in the given directory. */
export const O_TMPFILE: number = 0o20000000 | O_DIRECTORY;
/** The close-on-exec bit of F_GETFD/F_SETFD. */
export const FD_CLOEXEC = 1;

// mmap(2) protections and flags
/** Pages may not be accessed. */
export const PROT_NONE = 0;
/** Pages may be read. */
export const PROT_READ = 1;
/** Pages may be written. */
export const PROT_WRITE = 2;
/** Pages may be executed. */
export const PROT_EXEC = 4;
/** Share the mapping: stores reach the file and other processes. */
export const MAP_SHARED = 1;
/** Private copy-on-write mapping. */
export const MAP_PRIVATE = 2;
/** MAP_SHARED that fails on unknown flags (needed for MAP_SYNC). */
export const MAP_SHARED_VALIDATE = 3;
/** Memory not backed by a file (fd -1). */
export const MAP_ANONYMOUS = 32;
/** Do not reserve swap space. */
export const MAP_NORESERVE = 0x4000;
/** Prefault the pages at mmap time. */
export const MAP_POPULATE = 0x8000;
/** Lock the pages like mlock. */
export const MAP_LOCKED = 0x2000;
/** Anonymous huge pages (size in MAP_HUGE_SHIFT bits). */
export const MAP_HUGETLB = 0x40000;
/** Synchronous page faults for DAX (pmem) files. */
export const MAP_SYNC = 0x80000;
/** Shift of log2(huge page size) in MAP_HUGETLB flags. */
export const MAP_HUGE_SHIFT = 26;

// memfd_create(2) flags
/** Close on exec. */
export const MFD_CLOEXEC = 1;
/** Allow F_ADD_SEALS on the memfd. */
export const MFD_ALLOW_SEALING = 2;
/** Back the memfd with huge pages. */
export const MFD_HUGETLB = 4;
/** The memfd is not executable and sealed so (Linux 6.3). */
export const MFD_NOEXEC_SEAL = 8;
/** The memfd may be executable (Linux 6.3). */
export const MFD_EXEC = 0x10;
/** Shift of log2(huge page size) in MFD_HUGETLB flags. */
export const MFD_HUGE_SHIFT = 26;

// fcntl(F_ADD_SEALS) seals
/** No more seals may be added. */
export const F_SEAL_SEAL = 1;
/** The file may not shrink. */
export const F_SEAL_SHRINK = 2;
/** The file may not grow. */
export const F_SEAL_GROW = 4;
/** The contents may not be written. */
export const F_SEAL_WRITE = 8;
/** No new writable mappings or writes; existing mappings keep working. */
export const F_SEAL_FUTURE_WRITE = 16;

// madvise(2) advice
/** No special treatment. */
export const MADV_NORMAL = 0;
/** Drop the pages (private: zero on next touch; shared: reread from the file). */
export const MADV_DONTNEED = 4;
/** The pages may be freed lazily. */
export const MADV_FREE = 8;
/** Free the pages and their backing store (punch a hole). */
export const MADV_REMOVE = 9;
/** Do not inherit across fork. */
export const MADV_DONTFORK = 10;
/** Undo MADV_DONTFORK. */
export const MADV_DOFORK = 11;
/** Let KSM merge identical pages. */
export const MADV_MERGEABLE = 12;
/** Undo MADV_MERGEABLE. */
export const MADV_UNMERGEABLE = 13;
/** Use transparent huge pages. */
export const MADV_HUGEPAGE = 14;
/** Avoid transparent huge pages. */
export const MADV_NOHUGEPAGE = 15;
/** Leave out of core dumps. */
export const MADV_DONTDUMP = 16;
/** Undo MADV_DONTDUMP. */
export const MADV_DODUMP = 17;
/** mlockall: lock the pages mapped now. */
export const MCL_CURRENT = 1;
/** mlockall: lock pages mapped from now on. */
export const MCL_FUTURE = 2;
/** mlockall: lock pages only once they are faulted in. */
export const MCL_ONFAULT = 4;
/** Prefault the pages readable (Linux 5.14). */
export const MADV_POPULATE_READ = 22;
/** Prefault the pages writable, reporting errors (Linux 5.14). */
export const MADV_POPULATE_WRITE = 23;

// msync(2) flags
/** Schedule the write-back. */
export const MS_ASYNC = 1;
/** Invalidate other mappings of the file. */
export const MS_INVALIDATE = 2;
/** Write back and wait. */
export const MS_SYNC = 4;

// fallocate(2) modes
/** Do not change the file size. */
export const FALLOC_FL_KEEP_SIZE = 1;
/** Deallocate the range (with FALLOC_FL_KEEP_SIZE). */
export const FALLOC_FL_PUNCH_HOLE = 2;

// mbind(2) policies and flags
/** The process's default policy. */
export const MPOL_DEFAULT = 0;
/** Prefer one node. */
export const MPOL_PREFERRED = 1;
/** Allocate only from the given nodes. */
export const MPOL_BIND = 2;
/** Interleave over the given nodes. */
export const MPOL_INTERLEAVE = 3;
/** Allocate on the node of the CPU that faults. */
export const MPOL_LOCAL = 4;
/** Prefer a set of nodes (Linux 5.15). */
export const MPOL_PREFERRED_MANY = 5;
/** mbind: fail if existing pages do not follow the policy. */
export const MPOL_MF_STRICT = 1;
/** mbind: move existing pages of this process. */
export const MPOL_MF_MOVE = 2;
/** mbind: move all existing pages (privileged). */
export const MPOL_MF_MOVE_ALL = 4;
/** Mode flag: node numbers are absolute. */
export const MPOL_F_STATIC_NODES = 0x8000;
/** Mode flag: node numbers are relative to the cpuset. */
export const MPOL_F_RELATIVE_NODES = 0x4000;
/** The node count QEMU's host-nodes bitmap covers. */
export const MAX_NODES = 128;

// flock(2) operations
/** Shared lock. */
export const LOCK_SH = 1;
/** Exclusive lock. */
export const LOCK_EX = 2;
/** With LOCK_SH/LOCK_EX: do not block. */
export const LOCK_NB = 4;
/** Unlock. */
export const LOCK_UN = 8;

// eventfd(2) flags
/** Reads decrement the counter by one. */
export const EFD_SEMAPHORE = 1;
/** Nonblocking reads and writes. */
export const EFD_NONBLOCK = 0x800;
/** Close on exec. */
export const EFD_CLOEXEC = 0x80000;

// Sockets
/** Unix domain sockets. */
export const AF_UNIX = 1;
/** IPv4. */
export const AF_INET = 2;
/** IPv6. */
export const AF_INET6 = 10;
/** Any address family (getaddrinfo). */
export const AF_UNSPEC = 0;
/** Stream socket. */
export const SOCK_STREAM = 1;
/** Datagram socket. */
export const SOCK_DGRAM = 2;
/** Sequenced-packet socket. */
export const SOCK_SEQPACKET = 5;
/** socket type flag: nonblocking. */
export const SOCK_NONBLOCK = 0x800;
/** socket type flag: close on exec. */
export const SOCK_CLOEXEC = 0x80000;
/** shutdown: no more receptions. */
export const SHUT_RD = 0;
/** shutdown: no more transmissions. */
export const SHUT_WR = 1;
/** shutdown: neither. */
export const SHUT_RDWR = 2;
/** Socket-level options. */
export const SOL_SOCKET = 1;
/** Pending socket error (for a nonblocking connect). */
export const SO_ERROR = 4;
/** Send buffer size. */
export const SO_SNDBUF = 7;
/** Receive buffer size. */
export const SO_RCVBUF = 8;
/** Receive SCM_CREDENTIALS. */
export const SO_PASSCRED = 16;
/** Rebind a port that has connections in TIME_WAIT. */
export const SO_REUSEADDR = 2;
/** TCP-level options. */
export const IPPROTO_TCP = 6;
/** Send small segments at once (no Nagle). */
export const TCP_NODELAY = 1;
/** IPv6-level options. */
export const IPPROTO_IPV6 = 41;
/** An IPv6 socket only takes IPv6 (no v4-mapped addresses). */
export const IPV6_V6ONLY = 26;
/** getaddrinfo: addresses to bind to. */
export const AI_PASSIVE = 1;
/** getaddrinfo: the canonical name too. */
export const AI_CANONNAME = 2;
/** getaddrinfo: the host must be numeric. */
export const AI_NUMERICHOST = 4;
/** getaddrinfo: IPv4-mapped IPv6 addresses when no IPv6 one exists. */
export const AI_V4MAPPED = 8;
/** getaddrinfo: only families the host has an address of. */
export const AI_ADDRCONFIG = 0x20;
/** getaddrinfo: the service must be numeric. */
export const AI_NUMERICSERV = 0x400;
/** Peek at incoming data. */
export const MSG_PEEK = 2;
/** Control data was truncated. */
export const MSG_CTRUNC = 8;
/** Data was truncated. */
export const MSG_TRUNC = 32;
/** Nonblocking for one call. */
export const MSG_DONTWAIT = 64;
/** No SIGPIPE on a broken stream. */
export const MSG_NOSIGNAL = 0x4000;
/** Received descriptors are close-on-exec. */
export const MSG_CMSG_CLOEXEC = 0x40000000;

// FdWatcher events (libuv)
/** The descriptor is readable. */
export const UV_READABLE = 1;
/** The descriptor is writable. */
export const UV_WRITABLE = 2;
/** The peer hung up. */
export const UV_DISCONNECT = 4;
/** Urgent data is readable. */
export const UV_PRIORITIZED = 8;

// sysconf(3) names
/** sysconf: the page size. */
export const SC_PAGESIZE = 30;
/** sysconf: online CPUs. */
export const SC_NPROCESSORS_ONLN = 84;

// prealloc methods
/** prealloc: MADV_POPULATE_WRITE, or touching pages where the kernel lacks it. */
export const PREALLOC_AUTO = 0;
/** prealloc: MADV_POPULATE_WRITE only. */
export const PREALLOC_POPULATE = 1;
/** prealloc: touch one byte per page (read, then write the same value back). */
export const PREALLOC_TOUCH = 2;

// statfs(2) magic numbers
/** f_type of hugetlbfs. */
export const HUGETLBFS_MAGIC = 0x958458f6;
/** f_type of tmpfs (including /dev/shm). */
export const TMPFS_MAGIC = 0x1021994;
