# Transactions (KIP-98): librdkafka's transactional producer and read_committed consumer
# (kafka-txn, kc_txn.c), and kafkajs transactions. Included by CMakeLists.txt.
add_executable(kafka-txn kc_txn.c)
target_link_libraries(kafka-txn PRIVATE PkgConfig::RDKAFKA)

tandem_it_tests(kafka-txn t_
    "txn_interleave 120 0"
    "txn_ctp 120 0"
    "txn_timeout 90 0"
    "txn_crash 180 1"
    "txn_kafkajs 90 0")
