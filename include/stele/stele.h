// stele: tamper-evident, high-throughput audit log engine.  Umbrella header.
#pragma once

#include "stele/event.h"
#include "stele/integrity.h"
#include "stele/log.h"
#include "stele/options.h"
#include "stele/query.h"
#include "stele/stats.h"
#include "stele/status.h"
