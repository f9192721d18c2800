/*
 * Broker settings: defaults, flags, config file (with line numbers in errors), environment,
 * and their precedence (file < environment < flags).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "tandem/error.h"

static void test_defaults(void **state)
{
    struct broker_config c;
    broker_config_init(&c);
    assert_string_equal(c.listen, "127.0.0.1:9092");
    assert_int_equal(c.num_partitions, 1);
    assert_true(c.auto_create_topics);
    assert_int_equal(c.socket_request_max_bytes, 104857600);
    assert_int_equal(c.log.max_message_bytes, 1048588);
    assert_int_equal(c.log.retention_bytes, -1);
    broker_config_cleanup(&c);
}

static void test_flags(void **state)
{
    struct broker_config c;
    broker_config_init(&c);
    char *argv[] = {"tandem-broker",
                    "--listen",
                    "127.0.0.1:0",
                    "--num-partitions=4",
                    "--auto-create-topics-enable",
                    "false",
                    "--log-retention-ms",
                    "60000"};
    char err[256];
    bool help;
    assert_int_equal(broker_config_from_args(&c, 8, argv, &help, err, sizeof(err)), 0);
    assert_false(help);
    assert_string_equal(c.listen, "127.0.0.1:0");
    assert_int_equal(c.num_partitions, 4);
    assert_false(c.auto_create_topics);
    assert_int_equal(c.log.retention_ms, 60000);
    broker_config_cleanup(&c);
}

static void test_bad_flags(void **state)
{
    struct broker_config c;
    broker_config_init(&c);
    char err[256];
    bool help;
    char *unknown[] = {"tandem-broker", "--no-such-thing", "1"};
    assert_int_equal(broker_config_from_args(&c, 3, unknown, &help, err, sizeof(err)),
                     TANDEM_ENOENT);
    assert_non_null(strstr(err, "--no-such-thing"));
    char *bad[] = {"tandem-broker", "--num-partitions", "many"};
    assert_int_equal(broker_config_from_args(&c, 3, bad, &help, err, sizeof(err)), TANDEM_EINVAL);
    char *missing[] = {"tandem-broker", "--listen"};
    assert_int_equal(broker_config_from_args(&c, 2, missing, &help, err, sizeof(err)),
                     TANDEM_EINVAL);
    broker_config_cleanup(&c);
}

static void test_file_env_precedence(void **state)
{
    char path[] = "/tmp/tandem-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# comment\n\nnum.partitions = 3\nlog.retention.bytes=1000\n"
                       "node.id=7\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);

    struct broker_config c;
    broker_config_init(&c);
    setenv("TANDEM_BROKER_NUM_PARTITIONS", "5", 1);
    setenv("TANDEM_BROKER_NODE_ID", "8", 1);
    char *argv[] = {"tandem-broker", "--config", path, "--node-id", "9"};
    char err[256];
    bool help;
    assert_int_equal(broker_config_from_args(&c, 5, argv, &help, err, sizeof(err)), 0);
    assert_int_equal(c.num_partitions, 5);         /* env over file */
    assert_int_equal(c.node_id, 9);                /* flag over env */
    assert_int_equal(c.log.retention_bytes, 1000); /* file */
    unsetenv("TANDEM_BROKER_NUM_PARTITIONS");
    unsetenv("TANDEM_BROKER_NODE_ID");
    broker_config_cleanup(&c);

    fd = open(path, O_WRONLY | O_TRUNC);
    const char *bad = "num.partitions=2\nbogus.key=1\n";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    broker_config_init(&c);
    assert_int_not_equal(broker_config_load_file(&c, path, err, sizeof(err)), 0);
    assert_non_null(strstr(err, ":2:"));
    assert_non_null(strstr(err, "bogus.key"));
    broker_config_cleanup(&c);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_file_env_precedence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
