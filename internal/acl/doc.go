// Package acl is meso's local authorizer: Mesos' ACLs (the --acls flag of
// master and agent, in Mesos' JSON format) and the decision whether a
// subject may perform an action on an object.
//
// An ACLs document is a JSON object with "permissive" (default true) and,
// per action, a list of rules. Each rule names its subjects under
// "principals" and its objects under a field of the action's own (roles,
// users, framework_principals, reserver_principals, creator_principals,
// logs, agents, ...); each of those is an entity: {"values": [...]} or
// {"type": "ANY"} / {"type": "NONE"}.
//
// Authorized walks the action's rules in order. The first rule whose
// subject and object entities both match the request decides: it allows
// when both entities allow the request values, it denies otherwise (a rule
// with NONE objects matches every principal it names and refuses them).
// When no rule matches, permissive decides. A request without a principal
// (authentication off) is the ANY subject: it matches only rules whose
// principals are ANY (allowed) or NONE (refused), as in Mesos' local
// authorizer. Role objects accept Mesos' recursive form "a/%", which
// matches every role below "a".
//
// The package is pure: Parse and Load build an immutable *ACLs that is
// safe to share between goroutines; a nil *ACLs allows everything (no
// --acls given).
package acl
