# dsinfer_model: weights (sharded loading from a checkpoint or dummy source), the DeepSeek architecture on the
# op interface, the paged KV cache, batch metadata and the ModelRunner the engine calls.
add_library(dsinfer_model STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/kv_cache.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/rope_table.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/weight_source.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/weights.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/step_inputs.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/deepseek.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/model_runner.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/decode_graphs.cpp)
target_include_directories(dsinfer_model PUBLIC ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(dsinfer_model PUBLIC dsinfer_ops dsinfer_io dsinfer_model_config dsinfer_core)
