#!/usr/bin/env bash
# Builds DJL's JNI library (libdjl_torch.so) for a libtorch of your own, e.g. the PyTorch a GPU host
# already has (pip or conda, with the CUDA its driver and GPU need), and makes the folder that
# ATTRIB_LIBTORCH (or `./attrib --libtorch DIR`) names: links to libtorch's core libraries, the JNI
# library, and libtorch.properties (version, flavor, library_path).
#
#   deploy/build-djl-jni.sh [--libtorch python|DIR] [--djl-src DIR] [--out DIR] [--print-folder]
#
#   --libtorch python  (default) the torch package of python3: python3 -c "import torch, os;
#                      print(os.path.dirname(torch.__file__))"
#   --libtorch DIR     a torch package folder (lib/, include/, version.py) or a libtorch C++ download
#                      (lib/, include/, build-version)
#   --djl-src DIR      DJL's sources at the tag the pom's djl.version names (a checkout or the unpacked
#                      GitHub archive of tag vX.Y.Z), for hosts without network; default: that archive,
#                      downloaded from GitHub
#   --out DIR          the folder to make; default: ${ATTRIB_CACHE:-~/.cache/llm-attrib}/libtorch/torch-VERSION-FLAVOR
#   --print-folder     print the default folder for this libtorch and exit (./attrib asks this for
#                      ATTRIB_LIBTORCH=python)
#
# Needs g++ (C++17), a JDK's or jlink'd runtime's include/jni.h (JAVA_HOME, else the java on PATH),
# and for a CUDA libtorch the CUDA headers (nvcc's include/, or pip's nvidia/*/include). Facts behind
# it, seen on an H200 host with torch 2.11.0+cu130: DJL's released JNI library is built for the
# libtorch its version pins and loads no other; its sources compile against a newer libtorch once the
# legacy-profiler code of ..._system.cc is cut (the project never calls DJL's profiler; calling it
# now raises UnsatisfiedLinkError); DJL loads every library in the folder and its JNI library from
# there first, so the folder holds links to five core libraries only; the links break those
# libraries' $ORIGIN-relative search paths, so library_path names torch's lib/ and pip's
# nvidia/*/lib, which ./attrib puts in LD_LIBRARY_PATH. CI never runs this.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "build-djl-jni: $*" >&2; exit 1; }

libtorch=python; djl_src=""; out=""; print_folder=0
while [ $# -gt 0 ]; do
  case "$1" in
    --libtorch) libtorch="${2:?--libtorch needs python or a folder}"; shift 2 ;;
    --djl-src) djl_src="${2:?--djl-src needs a folder}"; shift 2 ;;
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --print-folder) print_folder=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

# 1. the libtorch: its folder, version, flavour (cpu, cu130, ...) and C++ ABI
if [ "$libtorch" = python ]; then
  command -v python3 >/dev/null || die "--libtorch python: no python3 on PATH"
  torch="$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null)" \
    || die "--libtorch python: python3 cannot import torch"
else
  torch="$(cd "$libtorch" 2>/dev/null && pwd)" || die "--libtorch $libtorch: no such folder"
fi
[ -f "$torch/lib/libtorch.so" ] || die "--libtorch $libtorch: no lib/libtorch.so in $torch"
if [ -f "$torch/version.py" ]; then        # a torch package: __version__ = '2.11.0+cu130', cuda = '13.0'
  full="$(sed -n "s/^__version__ *= *'\(.*\)'.*/\1/p" "$torch/version.py")"
  cuda="$(sed -n "s/^cuda *: *[^=]*= *'\(.*\)'.*/\1/p; s/^cuda *= *'\(.*\)'.*/\1/p" "$torch/version.py")"
elif [ -f "$torch/build-version" ]; then   # a libtorch download: 2.11.0+cu130
  full="$(cat "$torch/build-version")"; cuda=""
else
  die "--libtorch $libtorch: neither version.py nor build-version in $torch: which libtorch is it?"
fi
version="${full%%+*}"
if [ -n "$cuda" ]; then flavor="cu${cuda//./}"
elif [[ "$full" == *+cu* ]]; then flavor="${full##*+}"
else flavor=cpu; fi
[ -n "$version" ] || die "cannot read torch's version in $torch"
folder="${out:-${ATTRIB_CACHE:-$HOME/.cache/llm-attrib}/libtorch/torch-$version-$flavor}"
if [ "$print_folder" = 1 ]; then echo "$folder"; exit 0; fi
echo "libtorch $version ($flavor) in $torch -> $folder" >&2

# 2. DJL's sources at the pom's version
djl_version="$(sed -n 's:.*<djl.version>\(.*\)</djl.version>.*:\1:p' "$root/pom.xml" | head -1)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
if [ -z "$djl_src" ]; then
  url="https://github.com/deepjavalibrary/djl/archive/refs/tags/v$djl_version.tar.gz"
  echo "downloading $url" >&2
  curl -fsSL "$url" | tar xz -C "$work" || die "cannot download $url (offline? give --djl-src DIR)"
  djl_src="$work/djl-$djl_version"
fi
native="$djl_src/engines/pytorch/pytorch-native/src/main/native"
[ -f "$native/ai_djl_pytorch_jni_PyTorchLibrary_system.cc" ] && [ -f "$djl_src/api/src/main/native/djl/utils.h" ] \
  || die "--djl-src $djl_src: not DJL's sources (no engines/pytorch/pytorch-native/src/main/native)"
mkdir -p "$work/src" "$work/include" "$work/obj"
cp "$native"/*.cc "$native"/*.h "$work/src/"

# 3. what a newer libtorch does not have: the legacy profiler (both JNI entry points and their helpers)
sed -i -e '/^using namespace torch::autograd::profiler;/d' \
  -e '/code snippet is copied from torch\/csrc\/autograd\/profiler_legacy.cpp/,/PyTorchLibrary_torchCudaEmptyCache/{/PyTorchLibrary_torchCudaEmptyCache/!d}' \
  "$work/src/ai_djl_pytorch_jni_PyTorchLibrary_system.cc"
grep -q torchStartProfile "$work/src/ai_djl_pytorch_jni_PyTorchLibrary_system.cc" \
  && die "DJL $djl_version's system.cc changed: the profiler cut no longer applies"

# 4. the JNI header javac -h would write, from the definitions themselves (no JDK compiler needed)
{
  echo '#include <jni.h>'; echo 'extern "C" {'
  awk '/^JNIEXPORT/ {p = 1; d = ""} p {d = d $0 "\n"} p && /\{/ {sub(/[ \t]*\{[^{]*\n$/, ";\n", d); printf "%s", d; p = 0}' \
    "$work"/src/ai_djl_pytorch_jni_PyTorchLibrary_*.cc
  echo '}'
} > "$work/include/ai_djl_pytorch_jni_PyTorchLibrary.h"

# 5. compile and link, one g++ per file in parallel
java_home="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
[ -f "$java_home/include/jni.h" ] || die "no include/jni.h under $java_home: set JAVA_HOME to a JDK (or a jlink'd runtime with its headers)"
abi=0; [ "$(nm -D --defined-only "$torch/lib/libc10.so" | grep -c __cxx11)" -eq 0 ] || abi=1
std=c++17   # libtorch 2.12 and later require C++20 (their headers say so with an #error)
grep -qs 'C++20 or later' "$torch/include/ATen/ATen.h" && std=c++20
flags=(-O2 -fPIC "-std=$std" -w "-D_GLIBCXX_USE_CXX11_ABI=$abi" -I"$torch/include" -I"$torch/include/torch/csrc/api/include"
  -I"$java_home/include" -I"$java_home/include/linux" -I"$work/include" -I"$djl_src/api/src/main/native")
libs=(-ltorch -ltorch_cpu -lc10)
site="$(dirname "$torch")"
if [ "$flavor" != cpu ]; then
  flags+=(-DUSE_CUDA)
  if command -v nvcc >/dev/null; then flags+=(-I"$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")/include"); fi
  for d in "$site"/nvidia/*/include; do [ -d "$d" ] && flags+=(-I"$d"); done
  libs+=(-ltorch_cuda -lc10_cuda)
fi
pids=()
for f in "$work"/src/*.cc; do
  g++ -c "${flags[@]}" "$f" -o "$work/obj/$(basename "$f" .cc).o" 2> "$work/obj/$(basename "$f" .cc).err" & pids+=($!)
done
failed=0; for p in "${pids[@]}"; do wait "$p" || failed=1; done
if [ "$failed" = 1 ]; then
  for e in "$work"/obj/*.err; do [ -s "$e" ] && { echo "== $(basename "$e" .err).cc"; grep -m 5 -A 3 'error' "$e"; } >&2; done
  die "compiling DJL $djl_version's JNI sources against libtorch $version failed (above)"
fi
mkdir -p "$folder"
g++ -shared "$work"/obj/*.o -L"$torch/lib" "${libs[@]}" -Wl,-rpath,'$ORIGIN' -o "$folder/libdjl_torch.so"

# 6. the folder: links to the core libraries, and what ./attrib and the jar read
for f in libc10.so libc10_cuda.so libtorch.so libtorch_cpu.so libtorch_cuda.so; do
  [ -e "$torch/lib/$f" ] && ln -sfn "$torch/lib/$f" "$folder/$f"
done
library_path="$torch/lib"
for d in "$site"/nvidia/*/lib; do [ -d "$d" ] && library_path="$library_path:$d"; done
cat > "$folder/libtorch.properties" <<EOF
# made by deploy/build-djl-jni.sh: libtorch $full from $torch, DJL $djl_version's JNI library built for it
version=$version
flavor=$flavor
library_path=$library_path
EOF
echo "$folder"
echo "built. Use it with: ATTRIB_LIBTORCH=$folder ./attrib selftest --device ${flavor/#cu*/cuda}" >&2
