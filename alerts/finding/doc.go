// Package finding is the one shape of detection: every detector
// (learning/baseline, learning/scan, learning/dhcp, learning/zones,
// learning/conversations, learning/advisories, the inventory's ARP
// watch, the alert engine's own protocol rules, the
// appliance watching itself) reports a Finding, and alerts.Engine.Raise
// is the one way it becomes an alert.
//
//	Finding{Key, Time,               what deviated (Key.Kind is the alert kind), and when
//	        Asset, Source, Dest, Tx, on what, by whom (the transaction when there is one)
//	        Message, Frames,         why, and the evidence
//	        Learning, Lower, Space…} hints for the engine's severity and folding
//
// A Key names what deviated: repeats of one key fold into one alert. It is
// built with NewKey from its kind and parts, never by joining strings;
// Key.String writes the "kind|part|part" form stored in alerts, feedback
// and the dashboard's state, and ParseKey reads it back.
//
// The package imports nothing from learning/ or alerts/, so both can use it.
package finding
