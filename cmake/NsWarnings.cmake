# Warnings as STYLE.md B9 lists them; NS_WERROR adds -Werror (CI turns it on).
function(ns_warnings target)
    target_compile_options(${target} PRIVATE
        -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes
        -Wmissing-prototypes -Wvla -Wimplicit-fallthrough)
    if(NS_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()
