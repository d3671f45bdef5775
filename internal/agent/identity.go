package agent

// The agent's secret on the link: the master issues one to each agent id
// at its first registration (REGISTERED's agent_secret) and refuses a
// later registration of that id without it. The agent keeps it under
// <work_dir>/meta, so that it survives restarts of the agent, and sends
// it in every REGISTER that names its id.

// linkSecretLocked is the secret to present for agent id ("" if none).
func (a *Agent) linkSecretLocked(id string) string {
	secret, err := a.store.AgentSecret(id)
	if err != nil {
		a.log.Warn("cannot read the agent's secret; registering without it", "err", err)
	}
	return secret
}

// keepSecretLocked records the secret the master issued to agent id.
func (a *Agent) keepSecretLocked(id, secret string) {
	if secret == "" {
		return
	}
	if err := a.store.WriteAgentSecret(id, secret); err != nil {
		a.log.Error("cannot checkpoint the secret the master issued; the next registration of this id will be refused", "agent", id, "err", err)
	}
}
