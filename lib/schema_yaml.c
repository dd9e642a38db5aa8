/* schema_yaml.c — to be written. */
#include "internal.h"
