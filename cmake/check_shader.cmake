# Syntax-checks one GLSL library file: wraps it in a minimal compute shader and runs glslangValidator.
get_filename_component(n ${FILE} NAME)
file(READ ${FILE} content)
set(wrapped "${STAMP}.comp")
file(WRITE ${wrapped} "#version 460\n#extension GL_EXT_buffer_reference : require\n#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require\n#define DESCENT_SYNTAX_CHECK 1\n${content}\nlayout(local_size_x = 1) in;\nvoid main() {}\n")
execute_process(COMMAND ${VALIDATOR} --target-env vulkan1.2 ${wrapped} -o ${STAMP}.spv
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "GLSL check failed for ${n}:\n${out}${err}")
endif()
file(WRITE ${STAMP} "ok\n")
