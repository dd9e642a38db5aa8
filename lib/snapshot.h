#ifndef CP_SNAPSHOT_H
#define CP_SNAPSHOT_H
#include "store.h"
#endif
