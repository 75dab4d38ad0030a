// Package alerts turns findings into alerts: stable kinds with severity
// and ATT&CK for ICS techniques, folding of repeats, self-regulating
// severity, operator feedback, and incidents.
//
// Every detection is a finding.Finding, and there is one way in:
//
//	Engine.Observe(tx)  the engine's own rules on a transaction (control
//	                    commands, broadcast writes, malformed PDUs, scans of
//	                    new things) and learning/baseline's findings on it
//	Engine.Raise(f)     every other detector's finding: scans, ARP, DHCP,
//	                    conversations, zones, advisories, the appliance's health
//
// Both end in one raise: the finding's Key (finding.Key) folds repeats,
// its kind and asset regulate severity, its source files the incident.
package alerts
