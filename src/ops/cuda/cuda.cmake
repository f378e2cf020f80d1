# Included by src/ops/CMakeLists.txt when DSINFER_CUDA: the CUDA ops in this folder call the kernels and the
# device runtime of dsinfer_cuda (src/kernels).
target_link_libraries(dsinfer_ops PUBLIC dsinfer_cuda)
# One CUDA runtime in every binary: the shared one, which dsinfer_ops already links (CUDA::cudart).
set_property(TARGET dsinfer_ops PROPERTY CUDA_RUNTIME_LIBRARY Shared)
target_compile_options(dsinfer_ops PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo>)
