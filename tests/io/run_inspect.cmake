# ctest driver for `dsinfer inspect`: runs COMMAND (a ;-list), then requires exit status EXPECTED_EXIT and
# output matching every regular expression in EXPECTED_OUTPUT (a ;-list).
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE exit_status OUTPUT_VARIABLE output ERROR_VARIABLE errors)
if(NOT exit_status STREQUAL EXPECTED_EXIT)
  message(FATAL_ERROR "exit status ${exit_status}, expected ${EXPECTED_EXIT}\n${output}${errors}")
endif()
foreach(pattern IN LISTS EXPECTED_OUTPUT)
  if(NOT output MATCHES "${pattern}")
    message(FATAL_ERROR "output does not match '${pattern}':\n${output}${errors}")
  endif()
endforeach()
