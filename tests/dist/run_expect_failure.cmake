# Runs `MPIEXEC -n NP EXTRA EXE MODE` and checks that the job fails as it should: it ends within
# LIMIT seconds (no hang), with a non-zero exit code, and its output matches the regex EXPECT
# (the failing rank's message). Used by tests/dist/CMakeLists.txt.
string(TIMESTAMP t0 "%s")
execute_process(COMMAND ${MPIEXEC} -n ${NP} ${EXTRA} ${EXE} ${MODE}
                TIMEOUT ${LIMIT} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(TIMESTAMP t1 "%s")
math(EXPR secs "${t1} - ${t0}")
message("${out}${err}")
message("run_expect_failure: mode ${MODE}, ${NP} ranks: exit '${rc}' after ${secs} s")
if(rc MATCHES "timeout")
  message(FATAL_ERROR "the job hung: still running after ${LIMIT} s")
endif()
if(rc EQUAL 0)
  message(FATAL_ERROR "the job exited 0; a failing rank must make it fail")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "the output lacks the failing rank's message (regex: ${EXPECT})")
endif()
