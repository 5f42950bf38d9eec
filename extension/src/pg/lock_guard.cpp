// LOCK TABLE on the extension's tables is refused to every role but superusers and the tables'
// owner (the extension's SECURITY DEFINER functions run as that owner).
//
// PostgreSQL lets a role with DELETE (writers on participant and attendance, DPOs on their
// notification channels) LOCK a table in any mode, even ACCESS EXCLUSIVE, and hold it for as long
// as its transaction stays open: every member's reads and writes, erasures and the daemon's
// jobs would queue behind it. Modes up to ROW EXCLUSIVE (what INSERT/UPDATE/DELETE take
// anyway) stay allowed. A LOCK naming one of the tables is refused before it waits; a LOCK that
// reaches them another way (a view of the caller's, even a temporary one, that selects from them)
// is refused as soon as it returns, which ends the transaction and so releases the lock. Such a
// LOCK must not wait in the lock queue meanwhile (every later request would queue behind it), so
// a LOCK naming a view is made NOWAIT: it fails at once (55P03) rather than wait for a holder.
//
// Plain C style: no C++ object with a destructor lives in these frames, because both the
// standard utility processing and the checks may raise PostgreSQL errors (longjmp).
#include "lock_guard.hpp"

extern "C" {
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/nodes.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
}

namespace {

ProcessUtility_hook_type previous_hook = nullptr;
bool installed = false;

// Modes that block members' writes or reads (SHARE UPDATE EXCLUSIVE and stronger).
constexpr LOCKMODE weakest_refused = ShareUpdateExclusiveLock;

bool is_privileged_for(Oid relid) {
	return superuser() || pg_class_ownercheck(relid, GetUserId());
}

// The extension's relations (tables, views, sequences), palloc'd; *count is set.
Oid *extension_relations(int *count) {
	*count = 0;
	Oid ext = get_extension_oid("outreach", true);
	if (!OidIsValid(ext))
		return nullptr;
	int capacity = 64;
	Oid *relids = static_cast<Oid *>(palloc(sizeof(Oid) * capacity));
	Relation depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyData key[2];
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
	            ObjectIdGetDatum(ExtensionRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
	SysScanDesc scan = systable_beginscan(depend, DependReferenceIndexId, true, nullptr, 2, key);
	HeapTuple tuple;
	while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
		Form_pg_depend dep = reinterpret_cast<Form_pg_depend>(GETSTRUCT(tuple));
		if (dep->classid != RelationRelationId || dep->deptype != DEPENDENCY_EXTENSION)
			continue;
		if (*count == capacity) {
			capacity *= 2;
			relids = static_cast<Oid *>(repalloc(relids, sizeof(Oid) * capacity));
		}
		relids[(*count)++] = dep->objid;
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);
	return relids;
}

// Whether this backend holds the relation in a mode members may not take (any of them).
bool holds_refused_mode(Oid relid) {
	LOCKTAG tag;
	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	for (LOCKMODE mode = weakest_refused; mode <= AccessExclusiveLock; ++mode)
		if (LockHeldByMe(&tag, mode))
			return true;
	return false;
}

bool names_a_view(LockStmt *stmt) {
	ListCell *cell;
	foreach (cell, stmt->relations) {
		Oid relid = RangeVarGetRelid(lfirst_node(RangeVar, cell), NoLock, true);
		if (OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_VIEW)
			return true;
	}
	return false;
}

[[noreturn]] void refuse(Oid relid) {
	ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
	                errmsg("permission denied to lock \"%s\" in this mode", get_rel_name(relid)),
	                errdetail("Tables of the outreach extension are locked by the service only; "
	                          "modes stronger than ROW EXCLUSIVE would stall every member."),
	                errhint("Use ordinary reads and writes; they take the locks they need.")));
}

void guarded_process_utility(PlannedStmt *pstmt, const char *query, bool read_only_tree,
                             ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *env,
                             DestReceiver *dest, QueryCompletion *qc) {
	Node *tree = pstmt->utilityStmt;
	bool check = IsA(tree, LockStmt) && reinterpret_cast<LockStmt *>(tree)->mode >= weakest_refused && !superuser();
	int n = 0;
	Oid *relids = nullptr;
	bool *held_before = nullptr;
	if (check) {
		relids = extension_relations(&n);
		held_before = static_cast<bool *>(palloc0(sizeof(bool) * (n + 1)));
		ListCell *cell;
		foreach (cell, reinterpret_cast<LockStmt *>(tree)->relations) {
			Oid relid = RangeVarGetRelid(lfirst_node(RangeVar, cell), NoLock, true);
			for (int i = 0; i < n; ++i)
				if (relids[i] == relid && !is_privileged_for(relid))
					refuse(relid);
		}
		for (int i = 0; i < n; ++i)
			held_before[i] = holds_refused_mode(relids[i]);
		if (names_a_view(reinterpret_cast<LockStmt *>(tree)) && !reinterpret_cast<LockStmt *>(tree)->nowait) {
			pstmt = static_cast<PlannedStmt *>(copyObjectImpl(pstmt));  // (the cached tree stays as written)
			reinterpret_cast<LockStmt *>(pstmt->utilityStmt)->nowait = true;
			read_only_tree = false;
		}
	}
	if (previous_hook)
		previous_hook(pstmt, query, read_only_tree, context, params, env, dest, qc);
	else
		standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
	for (int i = 0; check && i < n; ++i)
		if (!held_before[i] && holds_refused_mode(relids[i]) && !is_privileged_for(relids[i]))
			refuse(relids[i]);
}

}  // namespace

namespace outreach::pg {

void install_lock_guard() {
	if (installed)
		return;
	previous_hook = ProcessUtility_hook;
	ProcessUtility_hook = guarded_process_utility;
	installed = true;
}

bool lock_guard_installed() { return installed; }

}  // namespace outreach::pg
