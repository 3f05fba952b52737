# Sourced by the scripts: paths to the pinned dependencies installed by scripts/deps.sh.
DLG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DLG_VENV="$DLG_ROOT/.deps/venv"
DLG_SITE=$("$DLG_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export DLG_DLPACK_INCLUDE_DIR="$DLG_SITE/tvm_ffi/include"
export DLG_CUDA_INCLUDE_DIR="$DLG_SITE/nvidia/cu13/include"
# cupti_activity.h & co. (nvidia-cuda-cupti): dlgemm_bench's kernel timing only.
export DLG_CUPTI_INCLUDE_DIR="$DLG_SITE/nvidia/cu13/include"
export DLG_NVRTC_LIB_DIR="$DLG_SITE/nvidia/cu13/lib"
export PATH="$DLG_VENV/bin:$PATH"
export DLG_CUOBJDUMP="$DLG_SITE/nvidia/cu13/bin/cuobjdump"
