/*
 * insforge_test_utils: a test-only stand-in for the part of InsForge's
 * preloaded library insforge_pg_utils (repository InsForge/insforge-db) that
 * the extension's tests depend on. Never shipped; built with PGXS by
 * tools/pgcluster.py and loaded through shared_preload_libraries.
 *
 * What it reproduces (facts from InsForge's documentation, no code of theirs):
 *  - it defines insforge.extension_grant_role (default project_admin),
 *    insforge.policy_grant_role and insforge.policy_grant_tables, so the lines
 *    InsForge puts in postgresql.conf are valid settings;
 *  - when the current role is insforge.extension_grant_role and the statement
 *    is CREATE, ALTER or DROP EXTENSION, the statement runs as the bootstrap
 *    superuser (SetUserIdAndSecContext with SECURITY_LOCAL_USERID_CHANGE) and
 *    the role is restored afterwards, also on error.
 * It does not reserve the insforge. prefix: insforge.internal_schemas stays a
 * plain placeholder, as in InsForge.
 */
#include "postgres.h"

#include "catalog/pg_authid_d.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static char *extension_grant_role = NULL;
static char *policy_grant_role = NULL;
static char *policy_grant_tables = NULL;
static ProcessUtility_hook_type prev_hook = NULL;

static bool
is_extension_statement(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_CreateExtensionStmt:
		case T_AlterExtensionStmt:
		case T_AlterExtensionContentsStmt:
			return true;
		case T_DropStmt:
			return ((DropStmt *) stmt)->removeType == OBJECT_EXTENSION;
		default:
			return false;
	}
}

static void
run_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			ProcessUtilityContext context, ParamListInfo params,
			QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_hook)
		prev_hook(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

static void
insforge_test_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					  ProcessUtilityContext context, ParamListInfo params,
					  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Oid			save_userid;
	int			save_sec_context;
	Oid			grant_role;

	if (extension_grant_role == NULL || extension_grant_role[0] == '\0'
		|| !is_extension_statement(pstmt->utilityStmt))
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		return;
	}
	grant_role = get_role_oid(extension_grant_role, true);
	if (!OidIsValid(grant_role) || GetUserId() != grant_role)
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		return;
	}
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}

void
_PG_init(void)
{
	DefineCustomStringVariable("insforge.extension_grant_role",
							   "Role whose CREATE/ALTER/DROP EXTENSION runs as the bootstrap superuser (test stand-in).",
							   NULL, &extension_grant_role, "project_admin",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("insforge.policy_grant_role",
							   "Role allowed to manage policies on insforge.policy_grant_tables (defined only; test stand-in).",
							   NULL, &policy_grant_role, "project_admin",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("insforge.policy_grant_tables",
							   "Tables whose policies insforge.policy_grant_role may manage (defined only; test stand-in).",
							   NULL, &policy_grant_tables, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	prev_hook = ProcessUtility_hook;
	ProcessUtility_hook = insforge_test_utility;
}
