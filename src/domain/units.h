/*
 * units.h - the vitals unit table: standard unit, accepted aliases and
 * valid range per metric (reference data-model §2.1, CLARIFICATIONS.md).
 * Pure lookup and arithmetic; no I/O.
 */
#ifndef MLW_UNITS_H
#define MLW_UNITS_H

#include <stddef.h>

/* Result of normalising one sample. */
enum units_result {
    UNITS_OK = 0,          /* converted (or already standard) and in range */
    UNITS_PASSTHROUGH = 1, /* metric not in the table: value and unit kept */
    UNITS_UNKNOWN_UNIT = -1,
    UNITS_OUT_OF_RANGE = -2,
    UNITS_NOT_FINITE = -3
};

/* Normalise value/unit of metric_type to its standard unit. On UNITS_OK
 * *out_value is in *out_unit (a static string); on UNITS_PASSTHROUGH the
 * input is returned unchanged. On errors, why (size why_len) gets a reason. */
enum units_result units_normalize(const char *metric_type, double value, const char *unit,
                                  double *out_value, const char **out_unit, char *why,
                                  size_t why_len);

/* Standard unit of a metric, or NULL if the metric is not in the table. */
const char *units_standard(const char *metric_type);

#endif
