#ifndef CP_STORE_H
#define CP_STORE_H
#include "schema.h"
#endif
