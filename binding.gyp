{
  "targets": [
    {
      "target_name": "tsqom_native",
      "sources": [
        "native/addon.cc",
        "native/common.cc",
        "native/fs.cc",
        "native/mapping.cc",
        "native/prealloc.cc",
        "native/atomics.cc",
        "native/net.cc",
        "native/fdwatcher.cc",
        "native/guarded.cc",
        "native/fs-at.cc",
        "native/memory.cc",
        "native/thread.cc"
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags": ["-fvisibility=hidden"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fexceptions"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y"],
      "ldflags": ["-pthread"]
    }
  ]
}
