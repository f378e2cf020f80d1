# Included by src/ops/CMakeLists.txt when DSINFER_CUDA: the CUDA ops in this folder call the kernels and the
# device runtime of dsinfer_cuda (src/kernels).
# CMake 3.25 does not know that nvcc 13 speaks C++20 (generation fails with "CUDA20 dialect not supported");
# tell it the flag for this directory, as src/kernels/CMakeLists.txt does.
set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
list(APPEND CMAKE_CUDA20_COMPILE_FEATURES cuda_std_20)
list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
target_link_libraries(dsinfer_ops PUBLIC dsinfer_cuda)
# One CUDA runtime in every binary: the shared one, which dsinfer_ops already links (CUDA::cudart).
set_property(TARGET dsinfer_ops PROPERTY CUDA_RUNTIME_LIBRARY Shared)
target_compile_options(dsinfer_ops PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo>)
