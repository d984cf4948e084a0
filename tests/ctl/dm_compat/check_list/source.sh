#!/bin/bash
# operate-source, list-member and the configuration commands.

function operate_source_empty_arg() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"operate-source" \
		"operate-source <operate-type> \[config-file ...\] \[-w worker\] \[--print-sample-config\] \[flags\]" 1
}

function operate_source_invalid_op() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"operate-source invalid $1" \
		"invalid operate" 1
}

function operate_source_stop_not_created_config() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"operate-source stop $1" \
		"source config with ID $SOURCE_ID1 not exists" 1
}

function list_member_bound_workers() {
	run_dm_ctl_with_retry $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"list-member --worker" \
		"\"stage\": \"bound\"" 2 \
		"\"source\": \"$SOURCE_ID1\"" 1 \
		"\"source\": \"$SOURCE_ID2\"" 1
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"list-member" \
		"\"result\": true" 1 \
		"\"leader\": {" 1 \
		"\"master\": {" 1 \
		"\"worker\": {" 1 \
		"\"alive\": true" 1
}

function config_wrong_arg() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"config" \
		"Available Commands" 1
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"config task haha" \
		"task not found" 1
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"get-config haha" \
		"get-config <task | master | worker | source> <name> \[--file filename\] \[flags\]" 1
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"get-config haha hihi" \
		"invalid config type 'haha'" 1
}

function show_ddl_locks_wrong_arg() {
	run_dm_ctl $WORK_DIR "$MASTER_HOST:$MASTER_PORT" \
		"shard-ddl-lock a b" \
		"dmctl shard-ddl-lock \[task\]" 1
}
