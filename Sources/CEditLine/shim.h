#ifndef KUBE9_CEDITLINE_SHIM_H
#define KUBE9_CEDITLINE_SHIM_H
#include <stdio.h>
#include <editline/readline.h>
#endif
