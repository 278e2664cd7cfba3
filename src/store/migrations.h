/* migrations: the embedded, versioned, forward-only schema migrations.
 * Generated from src/store/migrations/{sqlite,pg}/NNNN_name.sql by tools/embed.c.
 * Each backend's list is ordered by version; the table ends with a zeroed entry. */
#ifndef PB_STORE_MIGRATIONS_H
#define PB_STORE_MIGRATIONS_H

typedef struct pb_migration {
    const char *backend; /* "sqlite" | "postgres" */
    int version;
    const char *name;
    const char *sql;
} pb_migration;

extern const pb_migration pb_migrations[];

#endif
