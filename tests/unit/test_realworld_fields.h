/*
 * The field tables the validation tests share (test_lib_validate.c, test_lib_service_validate.c,
 * tests/fuzz/fuzz_validate.c): RealWorld's registration (a user with a username of at most 20
 * characters here, an e-mail, a password of 8 to 72, an image URL) and an article using every
 * other type and flag.
 */
#ifndef TANDEM_TEST_REALWORLD_FIELDS_H
#define TANDEM_TEST_REALWORLD_FIELDS_H

#include "tandem/validate.h"

static const struct tandem_field REGISTER[] = {
    {.path = "user", .type = TANDEM_FIELD_OBJECT, .flags = TANDEM_FIELD_REQUIRED},
    {.path = "user.username",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK,
     .max = 20},
    {.path = "user.email",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK | TANDEM_FIELD_EMAIL},
    {.path = "user.password",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED,
     .min = 8,
     .max = 72},
    {.path = "user.image", .type = TANDEM_FIELD_STRING, .flags = TANDEM_FIELD_URL},
    TANDEM_FIELD_END,
};

static const struct tandem_field ARTICLE[] = {
    {.path = "article.title",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK},
    {.path = "article.tagList",
     .type = TANDEM_FIELD_STRINGS,
     .flags = TANDEM_FIELD_NOT_BLANK,
     .max = 3,
     .item_max = 5},
    {.path = "article.draft", .type = TANDEM_FIELD_BOOL},
    {.path = "article.order", .type = TANDEM_FIELD_INT},
    {.path = "article.meta", .type = TANDEM_FIELD_OBJECT, .flags = TANDEM_FIELD_NOT_BLANK},
    TANDEM_FIELD_END,
};

#endif
