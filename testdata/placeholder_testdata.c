/* placeholder */
#include "wyelink/error.h"
typedef int wye_placeholder_testdata;
