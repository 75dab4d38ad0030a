// Package pipeline turns captured frames into transactions: it decodes
// headers, reassembles IP fragments and TCP streams, finds each flow's
// protocol by probing its first bytes, and drives that protocol's session.
// Every resource is bounded, and every bound counts when it is hit.
//
// A pipeline has two outputs. The first is the sink given to New: one
// protocols.Transaction per request/response pair, unanswered request or
// unsolicited message, the only thing the baselines learn from. The second
// is the network stream, Pipeline.Events: what the pipeline saw of the
// network beside the ICS protocols, one Event at a time, its EventKind
// saying what it carries. The daemon (cmd/otwatch, monitor.attach) feeds
// it to the evidence recorder and learning's network detectors.
//
//	frames --> decode ---> IP defrag --> flows ------> TCP reassembly --> probe -------> sessions ---> Transaction --> sink
//	(capture)  (frame)     (frame)       (lru, caps)   (UDP: datagrams)   (registered    (one per      (first output: inventory,
//	   |          |           |             |                              dissectors)    bound flow)    baseline, alert engine)
//	   |          |           |             |
//	   |          |           |             +--> ConversationAnswered, ConversationPickedUp, --+
//	   |          |           |             |    FlowEnded (a memo holds counts)             |
//	   |          |           +--> PacketSeen (every TCP/UDP packet), ICMPSeen ---------------+
//	   |          +--> ARPSeen, LLDPSeen (not IP) --------------------------------------------+
//	   +--> FrameSeen (every frame, before defrag; opt-in) -----------------------------------+
//	                                                                                           |
//	                             second output: Events func(*Event), the network stream <-----+
//	                               FrameSeen            --> evidence recorder (rings of recent frames per flow)
//	                               PacketSeen           --> inventory (packet/byte counts, MAC/IP), DHCP watch, scan detector
//	                               ARPSeen              --> inventory's ARP watch, scan detector
//	                               ICMPSeen             --> scan detector (echo sweeps, refused UDP probes)
//	                               LLDPSeen             --> inventory (LLDP neighbours)
//	                               ConversationAnswered --> inventory (services), conversations detector
//	                               ConversationPickedUp --> conversations detector
//	                               FlowEnded            --> inventory (the packets its flow's memo counted)
//
// Both outputs are called on the goroutine that calls HandleFrame, in
// capture order, and neither may keep what it is given past the call. The
// per-packet events cost no allocation: the pipeline refills one Event
// and passes its address.
package pipeline
