# Sourced by the GPU-box stage scripts: safe NCCL settings, unbuffered logs, GPU count.
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export OMP_NUM_THREADS=4
NGPU=$(python3 -c "import torch; print(max(1, torch.cuda.device_count()))")
RUNS=${RUNS:-$PWD/../.ckpt/runs}
WEBP=${WEBP:-$PWD/../.carry/webp}
mkdir -p "$RUNS"
trun() { torchrun --standalone --nproc_per_node="$NGPU" "$@"; }
