// Implemented by the checkpoint/config work (issue 2).
#include "model/config.h"
