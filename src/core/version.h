/* core/version.h: the version of Vigie (one place). */
#ifndef VG_VERSION_H
#define VG_VERSION_H
#define VIGIE_VERSION "0.1.0"
#endif
