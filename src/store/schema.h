/*
 * schema.h - migrations embedded in the binary.
 *
 * src/store/schema/<dialect>_<NNN>_<name>.sql files are turned into this
 * table at build time (cmake/embed_schema.cmake), sorted by file name.
 * Versions are per dialect and only ever appended.
 */
#ifndef MLW_SCHEMA_H
#define MLW_SCHEMA_H

struct schema_migration {
    const char *dialect; /* "sqlite" or "postgres" */
    int version;
    const char *name;
    const char *sql;
};

extern const struct schema_migration schema_migrations[]; /* ends with {0} */

#endif
