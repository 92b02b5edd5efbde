# Sourced by the GPU-box stage scripts: safe NCCL settings, unbuffered logs, GPU count.
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export OMP_NUM_THREADS=4
# GPU indices mean the same to every job when several share the box (CUDA_VISIBLE_DEVICES pins one).
export CUDA_DEVICE_ORDER=PCI_BUS_ID
NGPU=$(python3 -c "import torch; print(max(1, torch.cuda.device_count()))")
RUNS=${RUNS:-$PWD/../.ckpt/runs}
WEBP=${WEBP:-$PWD/../.carry/webp}
mkdir -p "$RUNS"
# A fixed rendezvous port per job family (TRUN_PORT): concurrent torchrun jobs must not share one,
# and torch 1.13's --standalone always takes 29400.
trun() { torchrun --nnodes=1 --master_port="${TRUN_PORT:-29501}" --nproc_per_node="$NGPU" "$@"; }
