/* placeholder: implemented by the protocols work */
#include "wyelink/error.h"
typedef int wye_placeholder_keys;
