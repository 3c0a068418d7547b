#!/bin/bash
# The GPU checks for a machine with a real GPU and PyTorch CUDA (the project's lent
# H100/H200): which Vulkan pieces it has, the model's parity tests on its adapter, and
# `fcn bench --device gpu` next to `scripts/bench_pytorch.py --device cuda` in the
# same call. Prepare on the build machine (the binaries are stripped and compressed
# to travel; the test binaries read their fixtures at /work/main, linked below):
#   CARGO_TARGET_DIR=target-gpu cargo build --release -p fcn-cli --features gpu
#   CARGO_TARGET_DIR=target-gpu cargo test --release -p fcn --features gpu \
#     --test parity --test device --test skip --test tv_fcn --test precision --no-run
#   mkdir -p devrun/lib && cp scripts/gpu_check.sh devrun/
#   cp -L /usr/lib/x86_64-linux-gnu/libvulkan.so.1 devrun/lib/   # in case it lacks one
#   strip + `xz` target-gpu/release/fcn → devrun/fcn-gpu.xz, and the two test
#   binaries (target-gpu/release/deps/{parity,device,skip,tv_fcn,precision}-*) → devrun/<name>.xz
# then run it there with devrun and .gl carried (.gl: the Vulkan loader's .deb, fetched as
# the device tool's README says), unpacking the loader first:
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; bash devrun/gpu_check.sh
# Results go to $OUT.
set -u
cd "$(dirname "$0")"
R=$PWD/..
log() { echo; echo "== $*"; }
log machine; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tail -2
nproc; grep -m1 "model name" /proc/cpuinfo
log "vulkan pieces"
ls -la /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/share/glvnd/egl_vendor.d 2>&1 | head -20
ldconfig -p | grep -i -E "libvulkan|GLX_nvidia|nvidia-glcore|EGL_nvidia|nvidia-gpucomp" | head
env | grep -i -E "^NVIDIA|^VK_" | head
cat /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json 2>/dev/null | head -20
if ! ldconfig -p | grep -q "libvulkan.so.1 "; then
  echo "no Vulkan loader on the machine: using the carried libvulkan.so.1"
  export LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-}
fi
if [ -z "$(ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* 2>/dev/null)" ]; then
  mounted=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  glx=$(ldconfig -p | grep -o "/[^ ]*libGLX_nvidia.so.0" | head -1)
  if [ -e "$mounted" ]; then
    echo "the NVIDIA ICD file is under the driver's mount: $mounted"
    export VK_DRIVER_FILES=$mounted VK_ICD_FILENAMES=$mounted
  elif [ -n "$glx" ]; then
    echo "no NVIDIA ICD file, but $glx exists: writing one"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3"}}\n' "$glx" > nvidia_icd.json
    export VK_ICD_FILENAMES=$PWD/nvidia_icd.json
  else
    echo "no NVIDIA ICD file and no libGLX_nvidia.so.0: the driver's Vulkan part is not on this machine"
  fi
fi
xz -d -f -k fcn-gpu.xz; chmod +x fcn-gpu
for t in parity device skip tv_fcn precision; do xz -d -f -k $t.xz; chmod +x $t; done
log "adapter"
timeout 60 ./fcn-gpu bench --device gpu --list 2>&1 | grep -v XDG_RUNTIME | head -5
# The test binaries read their fixtures at the path they were built in.
mkdir -p /work && [ -e /work/main ] || ln -s "$R" /work/main
log "parity and training tests on the GPU"
for t in parity device skip tv_fcn precision; do
  FCN_TEST_DEVICE=gpu timeout 50 ./$t --test-threads 1 2>&1 | grep -v XDG_RUNTIME | grep -E "^test |test result|panicked|error" | head -20
done
log "fcn bench --device gpu"
timeout 180 ./fcn-gpu bench --device gpu --json --seconds 2 > "$OUT/fcn_gpu.json" 2> "$OUT/fcn_gpu.err"
echo "exit $?"; grep -v XDG_RUNTIME "$OUT/fcn_gpu.err" | tail -8
for p in f16 bf16; do
  log "fcn bench --device gpu --precision $p"
  timeout 90 ./fcn-gpu bench --device gpu --precision $p --json --seconds 2 --only fcn_infer_b8 \
    --only fcn_train_b8 --only fcn_train_b32 > "$OUT/fcn_gpu_$p.json" 2> "$OUT/fcn_gpu_$p.err"
  echo "exit $?"; grep -v XDG_RUNTIME "$OUT/fcn_gpu_$p.err" | tail -5
done
log "PyTorch CUDA"
python3 -c "import torch, torchvision; print(torch.__version__, torchvision.__version__, torch.cuda.get_device_name(0))" 2>&1 | tail -1
timeout 120 python3 "$R/scripts/bench_pytorch.py" --device cuda --json > "$OUT/torch_cuda.json" 2> "$OUT/torch_cuda.err"
echo "exit $?"; tail -3 "$OUT/torch_cuda.err"; cat "$OUT/torch_cuda.json"
cat "$OUT/fcn_gpu.json"
